// Bencoded tracker responses. Pure functions, so the wire format (BEP 3, 23, 7, 48)
// is unit-tested without a server.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tracker/peer_store.h"

namespace shoal::tracker {

struct AnnounceReply {
  std::chrono::seconds interval{30};
  std::chrono::seconds min_interval{15};
  uint64_t complete = 0;
  uint64_t incomplete = 0;
  std::vector<PeerEntry> peers;  // already selected by the hand-out policy
  bool compact = false;
  bool no_peer_id = false;
};

// compact: `peers` is 6 bytes per IPv4 peer (BEP 23) and `peers6` 18 bytes per IPv6
// peer (BEP 7). Otherwise `peers` is a list of {"peer id", "ip", "port"} dicts with
// one entry per address, IPv4 and IPv6 alike ("peer id" left out with no_peer_id).
std::string encode_announce(const AnnounceReply& reply);
// {"failure reason": reason}: trackers answer these with HTTP 200, since clients
// only show the reason from a 200 body.
std::string encode_failure(std::string_view reason);
// BEP 48: {"files": {<20-byte info_hash>: {complete, downloaded, incomplete}}}.
std::string encode_scrape(const std::vector<std::pair<std::string, SwarmCounts>>& files);

}  // namespace shoal::tracker
