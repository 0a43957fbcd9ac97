// A strong type for piece indices, so a piece number is never mixed up with a block
// number or a byte offset.
#pragma once

#include <compare>
#include <cstdint>

namespace shoal {

struct PieceIndex {
  uint32_t value = 0;
  friend auto operator<=>(PieceIndex, PieceIndex) = default;
  PieceIndex next() const { return PieceIndex{value + 1}; }
};

}  // namespace shoal
