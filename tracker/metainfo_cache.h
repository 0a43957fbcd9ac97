// A bounded cache of metainfo documents by digest, least recently used out first.
// Metainfo is immutable for a digest (it is derived from the blob's bytes), so
// entries never need invalidation, only eviction for space. Each entry also keeps
// what the tracker reads from the metainfo (the info-hash peers announce and the
// piece count), looked up by digest for GET /swarms and by info-hash to check an
// announce's shoal_have.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace shoal::tracker {

struct SwarmKey {
  std::string info_hash;  // the announced info-hash, 20 raw bytes
  uint32_t pieces = 0;
};

class MetainfoCache {
 public:
  explicit MetainfoCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::optional<std::string> get(const std::string& digest);
  // Documents larger than the whole budget are not kept. `key` is empty for a metainfo
  // the tracker could not read (it is still served as the origin gave it).
  void put(const std::string& digest, std::string metainfo,
           std::optional<SwarmKey> key = std::nullopt);
  std::optional<SwarmKey> key_of(const std::string& digest);
  std::optional<uint32_t> pieces_of(const std::string& info_hash) const;
  size_t bytes() const;
  size_t entries() const;

 private:
  struct Entry {
    std::string digest;
    std::string metainfo;
    std::optional<SwarmKey> key;
  };
  using Lru = std::list<Entry>;  // front: most recent
  void erase(Lru::iterator it);

  const size_t max_bytes_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
  std::unordered_map<std::string, uint32_t> pieces_by_hash_;
  size_t bytes_ = 0;
};

}  // namespace shoal::tracker
