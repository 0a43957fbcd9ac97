#include "peer/piece_tracker.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

constexpr uint32_t kBlock = 16 * 1024;
constexpr uint32_t kPiece = 4 * kBlock;

TEST(PieceTracker, CountsPiecesAndShortLastPiece) {
  PieceTracker t(2 * kPiece + kBlock + 10, kPiece);
  EXPECT_EQ(t.piece_count(), 3u);
  EXPECT_EQ(t.piece_length(PieceIndex{2}), kBlock + 10u);
  EXPECT_EQ(t.piece_length(PieceIndex{3}), 0u);
}

TEST(PieceTracker, APieceIsReadableOncePassed) {
  PieceTracker t(2 * kPiece, kPiece);
  EXPECT_FALSE(t.readable(PieceIndex{0}));
  t.piece_passed(PieceIndex{0});
  EXPECT_TRUE(t.readable(PieceIndex{0}));
  EXPECT_FALSE(t.readable(PieceIndex{1}));
  EXPECT_FALSE(t.all_passed());
  t.piece_passed(PieceIndex{0});  // twice counts once
  EXPECT_EQ(t.passed_count(), 1u);
  t.piece_passed(PieceIndex{1});
  EXPECT_TRUE(t.all_passed());
}

TEST(PieceTracker, TheFinalFlushMakesEveryPieceACandidate) {
  // It is issued once the torrent finished: events lost before it do not matter.
  PieceTracker t(3 * kPiece, kPiece);
  t.piece_passed(PieceIndex{0});
  t.all_flushed();
  for (uint32_t p = 0; p < 3; ++p) EXPECT_TRUE(t.readable(PieceIndex{p}));
  EXPECT_TRUE(t.all_passed());
}

TEST(PieceTracker, ReadableEndFollowsTheRunFromAPiece) {
  PieceTracker t(3 * kPiece + 100, kPiece);
  for (uint32_t p : {0u, 1u, 3u}) t.piece_passed(PieceIndex{p});
  EXPECT_EQ(t.readable_end(PieceIndex{0}), 2u * kPiece);
  EXPECT_EQ(t.readable_end(PieceIndex{2}), 2u * kPiece);        // not readable: its own start
  EXPECT_EQ(t.readable_end(PieceIndex{3}), 3u * kPiece + 100);  // clamped to the blob
}

TEST(PieceTracker, IgnoresOutOfRangeEvents) {
  PieceTracker t(kPiece, kPiece);
  t.piece_passed(PieceIndex{7});
  EXPECT_EQ(t.passed_count(), 0u);
  EXPECT_FALSE(t.readable(PieceIndex{7}));
}

}  // namespace
}  // namespace shoal::peer
