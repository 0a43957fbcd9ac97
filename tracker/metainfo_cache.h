// A bounded cache of metainfo documents by digest, least recently used out first.
// Metainfo is immutable for a digest (it is derived from the blob's bytes), so
// entries never need invalidation, only eviction for space.
#pragma once

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace shoal::tracker {

class MetainfoCache {
 public:
  explicit MetainfoCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::optional<std::string> get(const std::string& digest);
  // Documents larger than the whole budget are not kept.
  void put(const std::string& digest, std::string metainfo);
  size_t bytes() const;
  size_t entries() const;

 private:
  using Lru = std::list<std::pair<std::string, std::string>>;  // front: most recent
  const size_t max_bytes_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace shoal::tracker
