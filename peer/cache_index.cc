#include "peer/cache_index.h"

namespace shoal::peer {

void CacheIndex::insert(const Digest& d, uint64_t size, Clock::time_point now) {
  auto it = entries_.find(d);
  if (it == entries_.end()) {
    lru_.push_back(d);
    Entry e;
    e.lru = std::prev(lru_.end());
    it = entries_.emplace(d, e).first;
  }
  bytes_ = bytes_ - it->second.size + size;
  it->second.size = size;
  touch(d, now);
}

void CacheIndex::touch(const Digest& d, Clock::time_point now) {
  auto it = entries_.find(d);
  if (it == entries_.end()) return;
  it->second.last_used = now;
  lru_.splice(lru_.end(), lru_, it->second.lru);
}

void CacheIndex::erase(const Digest& d) {
  auto it = entries_.find(d);
  if (it != entries_.end()) remove(it);
}

void CacheIndex::remove(std::map<Digest, Entry>::iterator it) {
  bytes_ -= it->second.size;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

std::vector<Digest> CacheIndex::take_victims(Clock::time_point now, uint64_t reserve) {
  std::vector<Digest> victims;
  for (auto lit = lru_.begin(); lit != lru_.end();) {
    auto it = entries_.find(*lit);
    ++lit;  // remove() below invalidates the current position
    const Entry& e = it->second;
    bool idle = ttl_.count() > 0 && now - e.last_used > ttl_;
    bool over = budget_ > 0 && bytes_ + reserve > budget_;
    if (!idle && !over) continue;
    victims.push_back(it->first);
    remove(it);
  }
  return victims;
}

}  // namespace shoal::peer
