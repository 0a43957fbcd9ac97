// Copies of blobs this origin still owes to other origins of the ring: the owners
// that were down or slow when a push was acknowledged, and the new owners found by
// repair. Each job is a small file under <data>/replication/ written before the push
// is answered, so a crash or restart loses no pending copy; the job's file goes when
// the target has confirmed it holds the blob.
//
// The scheduling (who runs next, backoff after a failure) is a state machine fed a
// clock; Origin runs the copies themselves (origin_replication.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/url.h"

namespace shoal::origin {

struct CopyJob {
  Digest digest;
  Url target;
  std::string key() const;  // the job's file name: unique per (digest, target)
};

class ReplicaQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ReplicaQueue(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Creates the directory and reloads the jobs a previous process left.
  Result<void> init(Clock::time_point now);

  // Durable before it returns; adding a job already queued changes nothing.
  // `running`: the caller runs it now, so next() must not hand it out.
  Result<void> add(const CopyJob& job, Clock::time_point now, bool running = false);
  // A job the caller took but will not run after all: next() may hand it out now.
  void release(const CopyJob& job);
  // Takes a job that is due and not running; nullopt when none is.
  std::optional<CopyJob> next(Clock::time_point now);
  // The target holds the blob (or we no longer hold it): the job is gone for good.
  void done(const CopyJob& job);
  // The copy failed: retried after a backoff growing from 1 s to 60 s.
  void failed(const CopyJob& job, Clock::time_point now);

  size_t size() const;
  size_t running() const;
  // Age of the oldest job, zero when empty.
  std::chrono::milliseconds oldest(Clock::time_point now) const;
  std::vector<CopyJob> jobs_for(const Digest& d) const;

 private:
  struct Entry {
    CopyJob job;
    Clock::time_point added, due;
    unsigned failures = 0;
    bool running = false;
  };
  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> jobs_;
};

}  // namespace shoal::origin
