// The edge's two cache tiers. Each holds objects under a byte budget and lets an
// S3-FIFO policy choose what to keep: the RAM tier keeps small objects' bytes in
// memory (a hit costs no system call before the send), the disk tier keeps every
// object as a file of a content-addressed BlobStore (a hit is one open(2); the tier
// survives a restart). Both are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/store/blob_store.h"
#include "core/digest.h"
#include "core/error.h"
#include "edge/s3fifo.h"

namespace shoal::edge {

using WallClock = std::chrono::system_clock;

class RamTier {
 public:
  struct Object {
    std::shared_ptr<const std::string> bytes;
    WallClock::time_point cached_at;
  };

  RamTier(uint64_t budget, uint64_t max_object);
  // Whether an object of this size may enter the tier at all.
  bool accepts(uint64_t size) const { return size <= max_object_ && size <= budget_; }
  std::optional<Object> get(const Digest& d);
  void put(const Digest& d, Object object);
  uint64_t used_bytes() const;
  size_t count() const;
  uint64_t budget() const { return budget_; }

 private:
  const uint64_t budget_;
  const uint64_t max_object_;
  mutable std::mutex mu_;
  S3Fifo policy_;
  std::unordered_map<Digest, Object> objects_;
};

class DiskTier {
 public:
  struct Hit {
    BlobFile file;
    WallClock::time_point cached_at;
  };

  // Opens (or creates) the store under dir and admits what a previous run left
  // there, oldest first; throws std::runtime_error at start-up.
  DiskTier(const std::filesystem::path& dir, uint64_t budget);

  std::optional<Hit> get(const Digest& d);
  bool contains(const Digest& d) const;
  Result<TempBlob> create_temp() { return store_->create_temp(); }
  // Checks the temporary's hash against d, renames it into place and admits it;
  // the files of objects the policy evicts are removed (open descriptors keep
  // working). An object over the whole budget is verified and then dropped.
  Result<void> commit(TempBlob& temp, const Digest& d);
  uint64_t used_bytes() const;
  size_t count() const;
  uint64_t budget() const { return budget_; }

 private:
  void admit_locked(const Digest& d, uint64_t size, WallClock::time_point cached_at);

  const uint64_t budget_;
  std::unique_ptr<BlobStore> store_;
  mutable std::mutex mu_;
  S3Fifo policy_;
  std::unordered_map<Digest, WallClock::time_point> cached_at_;
};

}  // namespace shoal::edge
