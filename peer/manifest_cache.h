// Manifests the agent has served, by "<name>@<digest>": a pull by digest (every platform
// manifest under an index, every re-pull of a pinned image) is answered without
// asking the origin, also while the origin is down. Entries are verified before they
// go in and are immutable; the oldest go first past the byte budget.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/digest.h"

namespace shoal::peer {

struct CachedManifest {
  std::string media_type;
  std::string body;
};

class ManifestCache {
 public:
  explicit ManifestCache(size_t budget_bytes) : budget_(budget_bytes) {}

  std::optional<CachedManifest> get(const std::string& key) const;
  void put(const std::string& key, CachedManifest m);
  size_t bytes() const;

 private:
  mutable std::mutex mu_;
  size_t budget_;
  size_t bytes_ = 0;
  std::map<std::string, CachedManifest> entries_;
  std::deque<std::string> order_;  // insertion order, oldest first
};

}  // namespace shoal::peer
