#include "storage/tag_cache.h"

namespace shoal::storage {

std::string TagCache::key(std::string_view repository, std::string_view tag) {
  return std::string(repository) + ":" + std::string(tag);
}

std::optional<TagCache::Entry> TagCache::find(std::string_view repository, std::string_view tag,
                                              Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = tags_.find(key(repository, tag));
  if (it == tags_.end()) return std::nullopt;
  return Entry{it->second.digest, now - it->second.at < ttl_};
}

void TagCache::put(std::string_view repository, std::string_view tag, const Digest& d,
                   Clock::time_point now) {
  std::lock_guard lock(mu_);
  tags_.insert_or_assign(key(repository, tag), Resolved{d, now});
}

}  // namespace shoal::storage
