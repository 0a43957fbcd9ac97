// Where the tracker keeps who is in which swarm. An interface because a second
// implementation is real: the in-memory store serves one tracker, the Redis store lets
// several trackers share one view. Entries expire after a TTL unless the peer announces
// again. The operations are awaitable so a remote store never blocks the tracker's other
// routes; the in-memory store answers at once. Time is passed in, never read, so the
// in-memory store can be tested with a fake clock (a Redis store expires by the server's
// clock and ignores it).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/asio.h"
#include "core/error.h"
#include "tracker/announce.h"

namespace shoal::tracker {

using TimePoint = std::chrono::steady_clock::time_point;

struct PeerEntry {
  std::string peer_id;  // 20 raw bytes, the key within a swarm
  std::string ipv4;     // 4 raw bytes, or empty
  std::string ipv6;     // 16 raw bytes, or empty (a dual-stack peer has both, BEP 7)
  uint16_t port = 0;
  bool complete = false;   // announced left=0: a seeder
  bool is_origin = false;  // peer_id starts with the origin prefix (handout.h)
  // The pieces the peer holds, as a BitTorrent bitfield (piece 0 is the high bit of the
  // first byte); empty when the peer did not send one (standard clients never do).
  std::string have;

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

  // One announce, in one call so a remote store answers it in one round trip:
  // event=stopped removes the peer; any other event adds or refreshes it (address,
  // completeness, pieces, expiry at now + TTL), and event=completed also counts one
  // finished download for scrape's `downloaded`. Returns the swarm's live peers after the
  // update (the announcer included, when it stays), in no particular order.
  // Errc::too_large when the store is full; a remote store answers Errc::unavailable
  // when it cannot be reached.
  virtual awaitable<Result<std::vector<PeerEntry>>> announce(const std::string& info_hash,
                                                             const PeerEntry& peer,
                                                             AnnounceEvent event, TimePoint now) = 0;
  // The swarm's live peers (not expired at `now`), in no particular order.
  virtual awaitable<Result<std::vector<PeerEntry>>> peers(const std::string& info_hash,
                                                          TimePoint now) = 0;
  virtual awaitable<Result<SwarmCounts>> counts(const std::string& info_hash, TimePoint now) = 0;

  // For metrics: swarms and peers held, including expired or emptied ones that the
  // next prune() drops (a remote store may answer from its last count).
  virtual size_t swarm_count() const = 0;
  virtual size_t peer_count() const = 0;
  // Drops expired peers and empty swarms; returns how many peers were dropped.
  virtual size_t prune(TimePoint now) = 0;
};

}  // namespace shoal::tracker
