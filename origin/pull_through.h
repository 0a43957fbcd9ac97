// Pull-through from an upstream registry (storage::RegistryBackend): the bookkeeping
// the origin's routes share, apart from Origin itself. Which repository upstream holds
// a blob (recorded from the manifests pulled through, since /blobs/<d> and its metainfo
// name no repository), and one fetch per digest however many requests miss it at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/digest.h"
#include "core/error.h"
#include "storage/registry_backend.h"

namespace shoal::origin {

class PullThrough {
 public:
  explicit PullThrough(std::shared_ptr<storage::RegistryBackend> upstream)
      : upstream_(std::move(upstream)) {}

  storage::RegistryBackend& upstream() { return *upstream_; }
  bool matches(std::string_view repository) const { return upstream_->matches(repository); }

  // `repository` upstream references d (a layer, config or child manifest of a manifest
  // pulled from it). The first one seen is kept.
  void note_repository(const Digest& d, const std::string& repository);
  std::optional<std::string> repository_of(const Digest& d) const;

  struct Outcome {
    Result<void> result;
    bool ran = false;  // this caller ran `fetch` (the others waited for its outcome)
  };
  // Blocking: runs fetch for d unless another thread is running one, then waits for
  // that one and shares its result.
  Outcome once(const Digest& d, const std::function<Result<void>()>& fetch);

 private:
  struct Flight {
    bool done = false;
    Result<void> result;
  };
  std::shared_ptr<storage::RegistryBackend> upstream_;
  mutable std::mutex mu_;
  std::condition_variable landed_;
  std::map<Digest, std::string> repositories_;
  std::map<Digest, std::shared_ptr<Flight>> flights_;
};

// Null without an upstream registry.
std::unique_ptr<PullThrough> make_pull_through(std::shared_ptr<storage::RegistryBackend> upstream);

}  // namespace shoal::origin
