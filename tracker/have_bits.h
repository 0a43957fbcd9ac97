// Arithmetic on the piece bitfields PeerEntry::have keeps (raw bytes, BitTorrent order:
// piece 0 in the high bit of the first byte), for the hand-out and GET /swarms.
// Pure functions; bitfields of different lengths are compared over the shorter one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::tracker {

// Pieces set in `have`.
size_t count_pieces(std::string_view have);
// Pieces set in `peer` and clear in `asker` (peer & ~asker).
size_t count_useful(std::string_view peer, std::string_view asker);
// A bitfield of `pieces` pieces, all set, the spare bits zero.
std::string full_have(uint32_t pieces);

}  // namespace shoal::tracker
