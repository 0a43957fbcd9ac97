#include "core/torrent/piece_bits.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

TEST(PieceBits, RoundTripsInBitTorrentOrder) {
  std::vector<bool> bits(10);
  bits[0] = bits[7] = bits[9] = true;
  EXPECT_EQ(piece_bits_hex(bits), "8140");
  auto back = parse_piece_bits("8140", 10);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bits);
  EXPECT_EQ(piece_bits_hex({}), "");
}

TEST(PieceBits, RefusesTheWrongLengthNonHexAndSpareBits) {
  EXPECT_FALSE(parse_piece_bits("81", 10));
  EXPECT_FALSE(parse_piece_bits("814000", 10));
  EXPECT_FALSE(parse_piece_bits("81zz", 10));
  EXPECT_FALSE(parse_piece_bits("8160", 10));  // bit 10 set, past the last piece
  EXPECT_TRUE(parse_piece_bits("FFC0", 10));   // either case
}

}  // namespace
}  // namespace shoal
