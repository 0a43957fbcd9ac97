#include "tracker/metainfo_cache.h"

namespace shoal::tracker {

std::optional<std::string> MetainfoCache::get(const std::string& digest) {
  std::lock_guard lock(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->metainfo;
}

std::optional<SwarmKey> MetainfoCache::key_of(const std::string& digest) {
  std::lock_guard lock(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->key;
}

std::optional<uint32_t> MetainfoCache::pieces_of(const std::string& info_hash) const {
  std::lock_guard lock(mu_);
  auto it = pieces_by_hash_.find(info_hash);
  if (it == pieces_by_hash_.end()) return std::nullopt;
  return it->second;
}

void MetainfoCache::erase(Lru::iterator it) {
  bytes_ -= it->digest.size() + it->metainfo.size();
  if (it->key) pieces_by_hash_.erase(it->key->info_hash);
  index_.erase(it->digest);
  lru_.erase(it);
}

void MetainfoCache::put(const std::string& digest, std::string metainfo,
                        std::optional<SwarmKey> key) {
  size_t size = digest.size() + metainfo.size();
  if (size > max_bytes_) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(digest); it != index_.end()) erase(it->second);
  while (bytes_ + size > max_bytes_ && !lru_.empty()) erase(std::prev(lru_.end()));
  if (key) pieces_by_hash_[key->info_hash] = key->pieces;
  lru_.push_front(Entry{digest, std::move(metainfo), std::move(key)});
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
