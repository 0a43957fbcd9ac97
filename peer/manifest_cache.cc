#include "peer/manifest_cache.h"

namespace shoal::peer {

std::optional<CachedManifest> ManifestCache::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ManifestCache::put(const std::string& key, CachedManifest m) {
  const size_t size = m.body.size() + m.media_type.size();
  if (size > budget_) return;
  std::lock_guard lock(mu_);
  if (entries_.contains(key)) return;
  while (bytes_ + size > budget_ && !order_.empty()) {
    auto it = entries_.find(order_.front());
    bytes_ -= it->second.body.size() + it->second.media_type.size();
    entries_.erase(it);
    order_.pop_front();
  }
  entries_.emplace(key, std::move(m));
  order_.push_back(key);
  bytes_ += size;
}

size_t ManifestCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace shoal::peer
