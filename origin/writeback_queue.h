// Which stored blobs still have to reach the storage backend (S3). Every committed
// blob is pending until the backend holds it; then it gets a marker file under
// <data>/backend/written/<64 hex>. The queue itself is never written: at start-up it is
// the store's blobs without a marker, so a crash between the commit and the write-back
// loses nothing, and a push costs no extra fsync. A lost marker (crash right after the
// PUT) only means one more HEAD, which finds the object: write-backs are idempotent.
//
// Scheduling is a state machine fed a clock (retries back off from 1 s to 60 s);
// Origin runs the HEADs and PUTs (origin_backend.cc).
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

class WritebackQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WritebackQueue(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Loads the markers; every digest of `stored` without one becomes pending, aged by
  // `age_of` (how long ago it was committed).
  Result<void> init(const std::vector<Digest>& stored, Clock::time_point now,
                    const std::function<std::chrono::milliseconds(const Digest&)>& age_of);

  // A blob was committed here: pending unless the backend already holds it.
  void add(const Digest& d, Clock::time_point now);
  // A due, not running blob, marked running; nullopt when none is.
  std::optional<Digest> next(Clock::time_point now);
  // The backend holds d: the marker is written and d is no longer pending.
  Result<void> written(const Digest& d);
  // Not written this time (another origin writes it, or the backend failed): retried
  // after a backoff; `failure` counts towards it growing.
  void later(const Digest& d, Clock::time_point now, bool failure);
  // d was deleted everywhere: neither pending nor written any more.
  void forget(const Digest& d);

  bool is_written(const Digest& d) const;
  bool is_pending(const Digest& d) const;
  // How long d has been pending; zero when it is not.
  std::chrono::milliseconds age(const Digest& d, Clock::time_point now) const;
  size_t pending() const;
  std::chrono::milliseconds oldest(Clock::time_point now) const;

 private:
  struct Entry {
    Clock::time_point added, due;
    unsigned failures = 0;
    bool running = false;
  };
  std::filesystem::path marker(const Digest& d) const;
  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::map<Digest, Entry> pending_;
  std::set<Digest> written_;
};

}  // namespace shoal::origin
