#include "edge/tiers.h"

#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "core/log.h"

namespace shoal::edge {

// ---- RAM -------------------------------------------------------------------

RamTier::RamTier(uint64_t budget, uint64_t max_object)
    : budget_(budget), max_object_(max_object), policy_(budget) {}

std::optional<RamTier::Object> RamTier::get(const Digest& d) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(d);
  if (it == objects_.end()) return std::nullopt;
  policy_.touch(d);
  return it->second;
}

void RamTier::put(const Digest& d, Object object) {
  if (!accepts(object.bytes->size())) return;
  std::lock_guard lock(mu_);
  if (objects_.contains(d)) return;
  for (const Digest& gone : policy_.insert(d, object.bytes->size())) objects_.erase(gone);
  // Readers that hold the shared bytes keep them alive past an eviction.
  if (policy_.contains(d)) objects_.emplace(d, std::move(object));
}

uint64_t RamTier::used_bytes() const {
  std::lock_guard lock(mu_);
  return policy_.used_bytes();
}

size_t RamTier::count() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

// ---- disk ------------------------------------------------------------------

namespace {

WallClock::time_point mtime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return WallClock::now();
  return WallClock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
}

}  // namespace

DiskTier::DiskTier(const std::filesystem::path& dir, uint64_t budget)
    : budget_(budget), policy_(budget) {
  auto store = BlobStore::open(dir);
  if (!store) throw std::runtime_error("cannot open the disk cache: " + store.error().message);
  store_ = std::move(*store);
  struct Found {
    Digest d;
    uint64_t size;
    WallClock::time_point mtime;
  };
  std::vector<Found> found;
  for (const Digest& d : store_->list()) {
    std::error_code ec;
    uint64_t size = std::filesystem::file_size(store_->path_of(d), ec);
    if (!ec) found.push_back({d, size, mtime_of(store_->path_of(d))});
  }
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
  std::lock_guard lock(mu_);
  for (const Found& f : found) admit_locked(f.d, f.size, f.mtime);
  log::info("disk cache", {{"dir", dir.string()},
                           {"objects", cached_at_.size()},
                           {"bytes", policy_.used_bytes()},
                           {"budget", budget_}});
}

void DiskTier::admit_locked(const Digest& d, uint64_t size, WallClock::time_point cached_at) {
  for (const Digest& gone : policy_.insert(d, size)) {
    cached_at_.erase(gone);
    if (gone == d) continue;
    if (auto r = store_->remove(gone); !r) {
      log::warn("cannot evict", {{"digest", gone.str()}, {"error", r.error().message}});
    }
  }
  if (policy_.contains(d)) {
    cached_at_[d] = cached_at;
  } else if (auto r = store_->remove(d); !r) {
    log::warn("cannot drop an object over the budget", {{"digest", d.str()}});
  }
}

std::optional<DiskTier::Hit> DiskTier::get(const Digest& d) {
  WallClock::time_point cached_at;
  {
    std::lock_guard lock(mu_);
    auto it = cached_at_.find(d);
    if (it == cached_at_.end()) return std::nullopt;
    policy_.touch(d);
    cached_at = it->second;
  }
  auto file = store_->open_blob(d);
  if (!file) {
    // Gone from under us (removed by hand, or a race with eviction): forget it.
    std::lock_guard lock(mu_);
    if (!store_->contains(d)) {
      policy_.erase(d);
      cached_at_.erase(d);
    }
    return std::nullopt;
  }
  return Hit{std::move(*file), cached_at};
}

bool DiskTier::contains(const Digest& d) const {
  std::lock_guard lock(mu_);
  return cached_at_.contains(d);
}

Result<void> DiskTier::commit(TempBlob& temp, const Digest& d) {
  auto committed = store_->commit(temp, d);
  if (!committed) return committed.error();
  std::lock_guard lock(mu_);
  if (!cached_at_.contains(d)) admit_locked(d, temp.size(), WallClock::now());
  return {};
}

uint64_t DiskTier::used_bytes() const {
  std::lock_guard lock(mu_);
  return policy_.used_bytes();
}

size_t DiskTier::count() const {
  std::lock_guard lock(mu_);
  return cached_at_.size();
}

}  // namespace shoal::edge
