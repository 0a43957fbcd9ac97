// An origin's disk as a cache in front of a storage backend (cache_size): the stored
// blobs in least-recently-used order. LRU rather than the edge's S3-FIFO because
// eviction here is vetoed per blob (one not yet written back must stay), and a veto
// fits a plain recency walk. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/digest.h"

namespace shoal::origin {

class DiskBudget {
 public:
  explicit DiskBudget(uint64_t limit) : limit_(limit) {}

  // Stored (or read): the most recently used now. Adding a known blob only touches it.
  void add(const Digest& d, uint64_t size);
  void touch(const Digest& d);
  void erase(const Digest& d);

  uint64_t limit() const { return limit_; }
  uint64_t used() const;
  size_t count() const;
  // The least recently used blobs that `may_evict` allows, just enough of them to bring
  // the bytes used within the limit (fewer when too few are allowed). Removes nothing:
  // the caller removes each from the store, then erase()s it.
  std::vector<Digest> victims(const std::function<bool(const Digest&)>& may_evict) const;

 private:
  struct Entry {
    std::list<Digest>::iterator at;
    uint64_t size = 0;
  };
  const uint64_t limit_;
  mutable std::mutex mu_;
  std::list<Digest> order_;  // front: most recent
  std::unordered_map<Digest, Entry> entries_;
  uint64_t used_ = 0;
};

}  // namespace shoal::origin
