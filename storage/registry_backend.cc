#include "storage/registry_backend.h"

namespace shoal::storage {
namespace {

// Connection failures name only host:port; the reader should know it was upstream.
template <class T>
Result<T> upstream_said(Result<T> r, const Url& registry) {
  if (r || r.error().message.find("upstream") != std::string::npos) return r;
  return Error(r.error().code, "upstream registry " + registry.str() + ": " + r.error().message);
}

}  // namespace

RegistryBackend::RegistryBackend(UpstreamSpec spec, http::ClientOptions options)
    : spec_(std::move(spec)),
      match_(spec_.match, std::regex::ECMAScript),
      options_(std::move(options)),
      auth_(spec_.credentials),
      tags_(spec_.tag_ttl) {}

RegistryClient RegistryBackend::client() { return RegistryClient(spec_.registry, auth_, options_); }

std::string RegistryBackend::describe() const { return "registry " + spec_.registry.str(); }

Result<void> RegistryBackend::check() { return upstream_said(client().ping(), spec_.registry); }

bool RegistryBackend::matches(std::string_view repository) const {
  return std::regex_match(repository.begin(), repository.end(), match_);
}

Result<std::optional<uint64_t>> RegistryBackend::head(const Digest& d,
                                                      std::string_view repository) {
  return upstream_said(client().head_blob(repository, d), spec_.registry);
}

Result<uint64_t> RegistryBackend::get(const Digest& d, std::string_view repository,
                                      const http::BodySink& sink) {
  return upstream_said(client().get_blob(repository, d, sink), spec_.registry);
}

Result<void> RegistryBackend::put(const Digest&, int, uint64_t) {
  return Error(Errc::forbidden, "the upstream registry is read-only");
}

Result<void> RegistryBackend::remove(const Digest&) {
  return Error(Errc::forbidden, "the upstream registry is read-only");
}

Result<UpstreamManifest> RegistryBackend::manifest(std::string_view repository,
                                                   std::string_view ref) {
  return upstream_said(client().get_manifest(repository, ref), spec_.registry);
}

}  // namespace shoal::storage
