// The in-memory PeerStore: one tracker process's view of its swarms. Thread-safe
// (one mutex: every operation is a few hash lookups, far cheaper than the HTTP
// request around it). Expired peers are invisible at once and freed by prune(),
// which the tracker calls periodically.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tracker/peer_store.h"

namespace shoal::tracker {

class MemoryPeerStore final : public PeerStore {
 public:
  // `max_peers` bounds memory against announces for endless made-up info_hashes.
  explicit MemoryPeerStore(std::chrono::milliseconds ttl, size_t max_peers = 1'000'000);

  awaitable<Result<std::vector<PeerEntry>>> announce(const std::string& info_hash,
                                                     const PeerEntry& peer, AnnounceEvent event,
                                                     TimePoint now) override;
  awaitable<Result<std::vector<PeerEntry>>> peers(const std::string& info_hash,
                                                  TimePoint now) override {
    co_return live_peers(info_hash, now);
  }
  awaitable<Result<SwarmCounts>> counts(const std::string& info_hash, TimePoint now) override {
    co_return live_counts(info_hash, now);
  }
  size_t swarm_count() const override;
  size_t peer_count() const override;
  size_t prune(TimePoint now) override;

  // The same operations without a coroutine frame, for announce() and for unit tests.
  Result<void> upsert(const std::string& info_hash, const PeerEntry& peer, TimePoint now);
  Result<void> remove(const std::string& info_hash, const std::string& peer_id);
  Result<void> record_completed(const std::string& info_hash);
  Result<std::vector<PeerEntry>> live_peers(const std::string& info_hash, TimePoint now);
  Result<SwarmCounts> live_counts(const std::string& info_hash, TimePoint now);

 private:
  struct Stored {
    PeerEntry entry;
    TimePoint expires;
  };
  struct Swarm {
    std::unordered_map<std::string, Stored> peers;  // by peer_id
    uint64_t downloaded = 0;
  };

  const std::chrono::milliseconds ttl_;
  const size_t max_peers_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Swarm> swarms_;  // by info_hash
  size_t peer_count_ = 0;
};

}  // namespace shoal::tracker
