// A plain byte-budgeted LRU with S3Fifo's interface: only the baseline S3-FIFO is
// measured against in the hit-ratio benchmark, so it lives with the tests.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "core/digest.h"

namespace shoal::edge::test {

class LruPolicy {
 public:
  explicit LruPolicy(uint64_t budget_bytes) : budget_(budget_bytes) {}

  bool contains(const Digest& d) const { return entries_.contains(d); }

  bool touch(const Digest& d) {
    auto it = entries_.find(d);
    if (it == entries_.end()) return false;
    order_.splice(order_.begin(), order_, it->second.pos);
    return true;
  }

  std::vector<Digest> insert(const Digest& d, uint64_t size) {
    erase(d);
    if (size > budget_) return {d};
    std::vector<Digest> evicted;
    while (used_ + size > budget_) {
      evicted.push_back(order_.back());
      erase(evicted.back());
    }
    order_.push_front(d);
    entries_.emplace(d, Entry{size, order_.begin()});
    used_ += size;
    return evicted;
  }

  bool erase(const Digest& d) {
    auto it = entries_.find(d);
    if (it == entries_.end()) return false;
    used_ -= it->second.size;
    order_.erase(it->second.pos);
    entries_.erase(it);
    return true;
  }

  uint64_t used_bytes() const { return used_; }
  size_t size() const { return entries_.size(); }
  uint64_t budget() const { return budget_; }

 private:
  struct Entry {
    uint64_t size;
    std::list<Digest>::iterator pos;
  };
  const uint64_t budget_;
  uint64_t used_ = 0;
  std::list<Digest> order_;  // front: most recently used
  std::unordered_map<Digest, Entry> entries_;
};

}  // namespace shoal::edge::test
