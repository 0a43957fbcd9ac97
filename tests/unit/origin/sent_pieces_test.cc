#include "origin/sent_pieces.h"

#include <gtest/gtest.h>

namespace shoal::origin {
namespace {

constexpr uint32_t kPiece = 64 * 1024;  // four blocks

TEST(SentPieces, APieceIsSentOnceEveryBlockOfItIs) {
  SentPieces s(3 * kPiece, kPiece);
  EXPECT_EQ(s.pieces(), 3u);
  EXPECT_FALSE(s.record(PieceIndex{1}, 0));
  EXPECT_FALSE(s.record(PieceIndex{1}, 2));
  EXPECT_FALSE(s.record(PieceIndex{1}, 1));
  EXPECT_EQ(s.pieces_sent(), 0u);
  EXPECT_TRUE(s.record(PieceIndex{1}, 3));
  EXPECT_EQ(s.pieces_sent(), 1u);
}

TEST(SentPieces, ABlockSentTwiceCountsOnce) {
  SentPieces s(kPiece, kPiece);
  for (int i = 0; i < 5; ++i) s.record(PieceIndex{0}, 0);
  s.record(PieceIndex{0}, 1);
  s.record(PieceIndex{0}, 2);
  EXPECT_EQ(s.pieces_sent(), 0u);
  EXPECT_TRUE(s.record(PieceIndex{0}, 3));
  EXPECT_FALSE(s.record(PieceIndex{0}, 3));
  EXPECT_EQ(s.pieces_sent(), 1u);
}

TEST(SentPieces, TheShortLastPieceHasFewerBlocks) {
  SentPieces s(kPiece + 20000, kPiece);  // last piece: 20000 bytes, two blocks
  EXPECT_EQ(s.pieces(), 2u);
  EXPECT_FALSE(s.record(PieceIndex{1}, 2));  // no third block: ignored
  EXPECT_FALSE(s.record(PieceIndex{1}, 0));
  EXPECT_TRUE(s.record(PieceIndex{1}, 1));
  EXPECT_EQ(s.pieces_sent(), 1u);
}

TEST(SentPieces, OutOfRangeIndicesAreIgnored) {
  SentPieces s(kPiece, kPiece);
  EXPECT_FALSE(s.record(PieceIndex{1}, 0));
  EXPECT_FALSE(s.record(PieceIndex{0}, 4));
  EXPECT_FALSE(s.record(PieceIndex{UINT32_MAX}, UINT32_MAX));
  EXPECT_EQ(s.pieces_sent(), 0u);
}

}  // namespace
}  // namespace shoal::origin
