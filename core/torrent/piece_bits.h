// A set of pieces as a bit string in hex, the way the hand-out request carries it
// (GET /blobs/<digest>/handout, header Shoal-Held): BitTorrent's bitfield order, piece 0
// in the high bit of the first byte, two hex digits a byte, spare bits zero.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shoal {

std::string piece_bits_hex(const std::vector<bool>& bits);
// Errc::bad_request unless `hex` is exactly ceil(pieces / 8) bytes of hex with the
// spare bits zero.
Result<std::vector<bool>> parse_piece_bits(std::string_view hex, uint32_t pieces);

}  // namespace shoal
