// Resumable upload sessions. The decision logic (where a chunk may start, when a
// session is idle) is a plain state machine fed a clock, testable without sockets;
// UploadManager adds the files under <data>/uploads/ and the locking.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/store/blob_store.h"
#include "core/error.h"
#include "core/file_io.h"
#include "http/range.h"
#include "core/sha256.h"

namespace shoal::origin {

using Clock = std::chrono::steady_clock;

struct UploadState {
  uint64_t offset = 0;
  Clock::time_point last_active;
  bool busy = false;  // a request is appending or committing right now

  // A chunk must start exactly at the offset: no gaps, no overlaps, no rewrites.
  bool accepts(const std::optional<http::ByteRange>& range) const {
    return !range || range->first == offset;
  }
  bool idle(Clock::time_point now, std::chrono::milliseconds timeout) const {
    return !busy && now - last_active >= timeout;
  }
};

class UploadManager;

// Exclusive use of one session while a request appends to or commits it.
class UploadLease {
 public:
  UploadLease(UploadLease&& o) noexcept;
  UploadLease& operator=(UploadLease&&) = delete;
  ~UploadLease();

  const std::string& id() const { return id_; }
  uint64_t offset() const { return offset_; }
  Result<void> append(const void* data, size_t len);
  // Hash of everything appended, or nullopt when part of it came from before a restart.
  std::optional<Digest> finish_hash();
  int fd() const { return fd_.get(); }
  // Hands the session back now (offset, hash) instead of at destruction, so a client
  // that gets our answer can send the next chunk at once.
  void release();

 private:
  friend class UploadManager;
  UploadLease(UploadManager& m, std::string id, UniqueFd fd, uint64_t offset,
              std::unique_ptr<Sha256> hash);
  UploadManager* manager_;
  std::string id_;
  UniqueFd fd_;
  uint64_t offset_;
  std::unique_ptr<Sha256> hash_;  // null when the session predates this process
  bool done_ = false;             // committed or removed: nothing to hand back
};

class UploadManager {
 public:
  UploadManager(std::filesystem::path dir, uint64_t max_size,
                std::chrono::milliseconds idle_timeout);
  // Reloads sessions left by a previous process; their hash is recomputed at commit.
  Result<void> load(Clock::time_point now);

  Result<std::string> create(Clock::time_point now);
  // A session under an id another origin chose (the mirror of its session; the id
  // must be valid_upload_id). Errc::conflict if it exists.
  Result<void> create_as(const std::string& id, Clock::time_point now);
  // The session's bytes so far, for sending them to a mirror.
  Result<UniqueFd> open_read(const std::string& id) const;
  Result<uint64_t> offset(const std::string& id, Clock::time_point now);
  // Errc::not_found for an unknown id, Errc::conflict if busy, Errc::range_not_satisfiable
  // if the chunk does not start at the offset (the message carries the offset).
  Result<UploadLease> acquire(const std::string& id, const std::optional<http::ByteRange>& range,
                              Clock::time_point now);
  // Moves the session's data into the store under `digest` once verified.
  Result<BlobStore::Committed> commit(UploadLease& lease, const Digest& digest, BlobStore& store);
  Result<void> remove(const std::string& id);
  void remove(UploadLease& lease);
  // Removes sessions idle past the timeout; returns how many.
  size_t sweep(Clock::time_point now);
  size_t count() const;
  uint64_t max_size() const { return max_size_; }

 private:
  friend class UploadLease;
  void release(const std::string& id, UniqueFd fd, uint64_t offset, std::unique_ptr<Sha256> hash);
  std::string path_of(const std::string& id) const { return (dir_ / id).string(); }

  struct Session {
    UploadState state;
    std::unique_ptr<Sha256> hash;  // parked here between requests
  };
  std::filesystem::path dir_;
  uint64_t max_size_;
  std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

}  // namespace shoal::origin
