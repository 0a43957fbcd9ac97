// How the Redis peer store lays a swarm out: the bytes one peer is stored as, and the
// keys of a swarm. Pure, apart from the store, and unit-tested on its own (every
// truncation, other versions): entries are read back from a Redis that others may
// write to.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tracker/peer_store.h"

namespace shoal::tracker {

// The bytes an entry is stored as (version 1):
//   u8 version=1, u8 flags (1 = complete, 2 = is_origin), u16 port (big-endian),
//   u8 length + peer_id, u8 length + ipv4 (0 or 4), u8 length + ipv6 (0 or 16),
//   u32 length (big-endian) + have.
// nullopt when a field does not fit (a peer_id over 255 bytes, an odd address size, a
// `have` over kMaxStoredHaveBytes).
std::optional<std::string> encode_entry(const PeerEntry& e);
// nullopt for anything that is not exactly such an encoding (another version included).
std::optional<PeerEntry> decode_entry(std::string_view bytes);

// A bitfield of 8 M pieces; announces are far below it (the query is capped by the
// server's header limit), this only keeps the format's promise.
inline constexpr size_t kMaxStoredHaveBytes = 1u << 20;

// A swarm's keys, all under one hash tag: <prefix>{<info_hash hex>}:peers and so on.
struct SwarmKeys {
  std::string peers, expiry, seeders, downloaded;
};
SwarmKeys swarm_keys(std::string_view prefix, std::string_view info_hash);

}  // namespace shoal::tracker
