// Where the tracker keeps who is in which swarm. An interface because a second
// implementation is real: the in-memory store serves one tracker, a Redis store
// (a later issue) lets several trackers share one view. Entries expire after a TTL
// unless the peer announces again; time is always passed in, never read, so stores
// can be tested with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace shoal::tracker {

using TimePoint = std::chrono::steady_clock::time_point;

struct PeerEntry {
  std::string peer_id;  // 20 raw bytes, the key within a swarm
  std::string ipv4;     // 4 raw bytes, or empty
  std::string ipv6;     // 16 raw bytes, or empty (a dual-stack peer has both, BEP 7)
  uint16_t port = 0;
  bool complete = false;   // announced left=0: a seeder
  bool is_origin = false;  // peer_id starts with the origin prefix (handout.h)

  friend bool operator==(const PeerEntry&, const PeerEntry&) = default;
};

// Scrape counts (BEP 48): seeders, leechers, and completed downloads seen.
struct SwarmCounts {
  uint64_t complete = 0;
  uint64_t incomplete = 0;
  uint64_t downloaded = 0;

  friend bool operator==(const SwarmCounts&, const SwarmCounts&) = default;
};

class PeerStore {
 public:
  virtual ~PeerStore() = default;

  // Adds the peer to the swarm or refreshes it (address, completeness, expiry at
  // now + TTL). Errc::too_large when the store is full; a remote store may also
  // answer Errc::unavailable.
  virtual Result<void> upsert(const std::string& info_hash, const PeerEntry& peer,
                              TimePoint now) = 0;
  // Removes the peer (event=stopped); absent peers are not an error.
  virtual Result<void> remove(const std::string& info_hash, const std::string& peer_id) = 0;
  // Counts one finished download (event=completed) for scrape's `downloaded`.
  virtual Result<void> record_completed(const std::string& info_hash) = 0;
  // The swarm's live peers (not expired at `now`), in no particular order.
  virtual Result<std::vector<PeerEntry>> peers(const std::string& info_hash, TimePoint now) = 0;
  virtual Result<SwarmCounts> counts(const std::string& info_hash, TimePoint now) = 0;

  // For metrics: swarms and peers held, including expired or emptied ones that the
  // next prune() drops.
  virtual size_t swarm_count() const = 0;
  virtual size_t peer_count() const = 0;
  // Drops expired peers and empty swarms; returns how many peers were dropped.
  virtual size_t prune(TimePoint now) = 0;
};

}  // namespace shoal::tracker
