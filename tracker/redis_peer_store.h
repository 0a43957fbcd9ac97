// The Redis PeerStore: swarms kept in Redis, so several trackers (behind one DNS name or
// load balancer) share one view. docs/ARCHITECTURE.md ("Redis peer store") says why it
// is built this way; in short:
//
// Data model, per swarm (info_hash in hex, in a hash tag so a swarm's keys share a
// Redis Cluster slot; Shoal itself speaks to one master):
//   <prefix>{<hex>}:peers       hash   peer_id -> encode_entry(PeerEntry)
//   <prefix>{<hex>}:expiry      zset   peer_id, scored by when it expires (ms, Redis clock)
//   <prefix>{<hex>}:seeders     zset   the seeders among them, same scores
//   <prefix>{<hex>}:downloaded  string completed downloads (scrape's `downloaded`)
// Each write sets the four keys' TTL to peer_ttl, so a swarm nobody announces to
// disappears whole; expired peers of a live swarm are dropped by the next announce.
//
// Every operation is one Lua script run by EVALSHA (EVAL once after NOSCRIPT): one
// round trip, atomic, and its clock is the server's TIME, so trackers whose clocks
// disagree still agree on who expired. The caller's TimePoint is ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "tracker/peer_store.h"
#include "tracker/peer_store_spec.h"
#include "tracker/redis_client.h"
#include "tracker/redis_entry.h"

namespace shoal::tracker {

struct RedisStoreOptions {
  RedisTarget target;
  std::chrono::milliseconds ttl{300'000};      // peer_ttl
  std::chrono::milliseconds timeout{1000};     // each connect and each request
  size_t max_connections = 8;
  size_t max_swarm_peers = 10'000;             // new peers past it: Errc::too_large
  std::string key_prefix = "shoal:swarm:";
};

// A Lua script and its SHA-1 (what EVALSHA names it by).
struct LuaScript {
  std::string_view text;
  std::string sha1;  // 40 lowercase hex digits
};
std::string sha1_hex(std::string_view data);

class RedisPeerStore final : public PeerStore {
 public:
  explicit RedisPeerStore(RedisStoreOptions options);
  ~RedisPeerStore() override;

  awaitable<Result<std::vector<PeerEntry>>> announce(const std::string& info_hash,
                                                     const PeerEntry& peer, AnnounceEvent event,
                                                     TimePoint now) override;
  awaitable<Result<std::vector<PeerEntry>>> peers(const std::string& info_hash,
                                                  TimePoint now) override;
  awaitable<Result<SwarmCounts>> counts(const std::string& info_hash, TimePoint now) override;

  // All swarms and live peers in Redis (every tracker's), as counted by the last
  // background SCAN; 0 until the first one has finished.
  size_t swarm_count() const override { return swarms_.load(std::memory_order_relaxed); }
  size_t peer_count() const override { return peers_.load(std::memory_order_relaxed); }
  // Redis drops expired data itself (key TTLs, and each announce drops its swarm's
  // expired peers), so there is nothing to free here: prune() only starts the SCAN that
  // refreshes swarm_count() and peer_count(), at most every refresh interval.
  size_t prune(TimePoint now) override;

  // Registers the store's series in the tracker's registry (call before serving).
  void export_metrics(metrics::Registry& registry);

 private:
  enum Op { kAnnounce, kPeers, kCounts, kOps };
  awaitable<Result<redis::Reply>> run_script(const LuaScript& script, const SwarmKeys& keys,
                                             std::vector<std::string> args);
  // The entries from `first` on; those that do not decode are skipped and counted.
  std::vector<PeerEntry> decode_peers(const redis::Reply& values, size_t first);
  void record(Op op, std::chrono::steady_clock::time_point start, bool ok);
  void bind_metrics(metrics::Registry& registry);
  awaitable<void> refresh_counts();

  const RedisStoreOptions opts_;
  const std::chrono::milliseconds refresh_interval_;
  std::unique_ptr<redis::Client> client_;
  metrics::Registry own_metrics_;  // until export_metrics()
  metrics::Counter* errors_[kOps] = {};
  metrics::Histogram* seconds_[kOps] = {};
  metrics::Counter* bad_entries_ = nullptr;
  std::atomic<size_t> swarms_{0};
  std::atomic<size_t> peers_{0};
  std::atomic<bool> refreshing_{false};
  std::chrono::steady_clock::time_point next_refresh_{};  // prune()'s caller only
};

}  // namespace shoal::tracker
