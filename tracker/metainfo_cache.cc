#include "tracker/metainfo_cache.h"

namespace shoal::tracker {

std::optional<std::string> MetainfoCache::get(const std::string& digest) {
  std::lock_guard lock(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void MetainfoCache::put(const std::string& digest, std::string metainfo) {
  size_t size = digest.size() + metainfo.size();
  if (size > max_bytes_) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(digest); it != index_.end()) {
    bytes_ -= it->first.size() + it->second->second.size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (bytes_ + size > max_bytes_ && !lru_.empty()) {
    auto& [d, m] = lru_.back();
    bytes_ -= d.size() + m.size();
    index_.erase(d);
    lru_.pop_back();
  }
  lru_.emplace_front(digest, std::move(metainfo));
  index_.emplace(digest, lru_.begin());
  bytes_ += size;
}

size_t MetainfoCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t MetainfoCache::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace shoal::tracker
