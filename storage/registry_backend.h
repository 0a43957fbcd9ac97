// An upstream OCI registry as a read-only Backend, plus what pull-through needs beyond
// the Backend interface: which repositories go upstream (upstream_match), manifests by
// tag or digest (checked against their digest), and the cache of resolved tags.
// Blocking and thread-safe: each call opens its own RegistryClient, the tokens are
// shared (RegistryAuth).
#pragma once

#include <regex>

#include "storage/backend.h"
#include "storage/registry_client.h"
#include "storage/tag_cache.h"
#include "storage/upstream_spec.h"

namespace shoal::storage {

class RegistryBackend : public Backend {
 public:
  explicit RegistryBackend(UpstreamSpec spec, http::ClientOptions options = {});

  std::string describe() const override;  // "registry https://host:port"
  Result<void> check() override;
  bool writable() const override { return false; }
  Result<std::optional<uint64_t>> head(const Digest& d, std::string_view repository) override;
  Result<uint64_t> get(const Digest& d, std::string_view repository,
                       const http::BodySink& sink) override;
  Result<void> put(const Digest& d, int fd, uint64_t size) override;  // Errc::forbidden
  Result<void> remove(const Digest& d) override;                      // Errc::forbidden

  // Whether `repository` is pulled through (upstream_match, the whole name).
  bool matches(std::string_view repository) const;
  Result<UpstreamManifest> manifest(std::string_view repository, std::string_view ref);
  TagCache& tags() { return tags_; }

 private:
  RegistryClient client();

  const UpstreamSpec spec_;
  const std::regex match_;
  http::ClientOptions options_;
  RegistryAuth auth_;
  TagCache tags_;
};

}  // namespace shoal::storage
