// Which peers an announcing peer is told about: Kraken's "completeness" hand-out
// policy. Seeders first (they can serve every piece), then origins (they can too, but
// their upload is the scarce resource the swarm exists to save), then leechers;
// random order within each class so load spreads evenly; never the requester itself.
// When the requester sent its piece bitfield (shoal_have), a piece-aware key comes
// first: peers holding the most pieces the requester lacks lead, and the classes above
// only break ties. A pure function of its inputs, the random generator included.
#pragma once

#include <cstddef>
#include <random>
#include <string_view>
#include <vector>

#include "tracker/peer_store.h"

namespace shoal::tracker {

// Peer-id prefixes (Azureus style, as libtorrent's peer_fingerprint sets them): the
// origin's libtorrent session uses "-SHO", peer agents "-SHP". The tracker trusts the
// prefix: it only orders the hand-out, it grants nothing.
inline constexpr std::string_view kOriginPeerIdPrefix = "-SHO";
inline constexpr std::string_view kPeerAgentPeerIdPrefix = "-SHP";

inline bool is_origin_peer_id(std::string_view peer_id) {
  return peer_id.substr(0, kOriginPeerIdPrefix.size()) == kOriginPeerIdPrefix;
}

using HandoutRng = std::mt19937_64;

class HandoutPolicy {
 public:
  // Up to `numwant` of `swarm`, ordered: complete non-origin peers, origins,
  // incomplete peers, each class shuffled with `rng`. Entries whose peer_id equals
  // `requester_id` are left out. With a non-empty `requester_have` (raw bitfield), peers
  // are first ordered by useful(), most first; the classes order equal counts, and ties
  // within a class are random.
  static std::vector<PeerEntry> select(std::vector<PeerEntry> swarm, std::string_view requester_id,
                                       size_t numwant, HandoutRng& rng,
                                       std::string_view requester_have = {});

  // How many pieces `peer` holds that the requester lacks. A complete peer holds them
  // all, so it counts as the most (SIZE_MAX) whatever bitfield it sent; an incomplete
  // peer that sent none (a standard client) counts 0: it may hold nothing.
  static size_t useful(const PeerEntry& peer, std::string_view requester_have);

  // 0 for seeders, 1 for origins, 2 for leechers: the order of the hand-out.
  static int priority(const PeerEntry& peer);
};

}  // namespace shoal::tracker
