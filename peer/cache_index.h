// The peer agent's disk budget: which cached blobs to evict, and when. Least recently
// used first once the bytes held exceed the budget, and any blob idle for longer than
// the TTL. Downloads in flight are not in the index, so they are never chosen; a
// blob a client is reading can be (the reader keeps its open descriptor). Sans-I/O:
// the caller passes the clock and removes the files.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <vector>

#include "core/digest.h"

namespace shoal::peer {

class CacheIndex {
 public:
  using Clock = std::chrono::steady_clock;

  // budget_bytes 0: no size limit; ttl 0: no idle limit.
  CacheIndex(uint64_t budget_bytes, std::chrono::milliseconds ttl)
      : budget_(budget_bytes), ttl_(ttl) {}

  // Adds a blob (or updates its size) as most recently used.
  void insert(const Digest& d, uint64_t size, Clock::time_point now);
  void touch(const Digest& d, Clock::time_point now);
  void erase(const Digest& d);
  bool contains(const Digest& d) const { return entries_.count(d) != 0; }

  // Blobs to evict now, least recently used first: idle ones past the TTL, then as
  // many as it takes to bring the total within budget, counting `reserve` bytes
  // about to arrive. They are removed from the index.
  std::vector<Digest> take_victims(Clock::time_point now, uint64_t reserve = 0);

  uint64_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t size = 0;
    Clock::time_point last_used;
    std::list<Digest>::iterator lru;  // position in lru_ (front: least recent)
  };
  void remove(std::map<Digest, Entry>::iterator it);

  uint64_t budget_;
  std::chrono::milliseconds ttl_;
  uint64_t bytes_ = 0;
  std::map<Digest, Entry> entries_;
  std::list<Digest> lru_;
};

}  // namespace shoal::peer
