#include "peer/piece_tracker.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

constexpr uint32_t kBlock = 16 * 1024;
constexpr uint32_t kPiece = 4 * kBlock;  // 4 blocks per piece

void write_piece(PieceTracker& t, uint32_t p) {
  for (uint32_t b = 0; b < t.blocks_in(PieceIndex{p}); ++b) t.block_written(PieceIndex{p}, b);
}

TEST(PieceTracker, CountsPiecesAndShortLastPiece) {
  PieceTracker t(2 * kPiece + kBlock + 10, kPiece);
  EXPECT_EQ(t.piece_count(), 3u);
  EXPECT_EQ(t.blocks_in(PieceIndex{0}), 4u);
  EXPECT_EQ(t.blocks_in(PieceIndex{2}), 2u);
  EXPECT_EQ(t.piece_length(PieceIndex{2}), kBlock + 10u);
  EXPECT_EQ(t.piece_length(PieceIndex{3}), 0u);
}

TEST(PieceTracker, PassedButUnwrittenIsNotReadable) {
  PieceTracker t(2 * kPiece, kPiece);
  t.piece_passed(PieceIndex{0});
  EXPECT_FALSE(t.readable(PieceIndex{0}));
  for (uint32_t b = 0; b < 3; ++b) t.block_written(PieceIndex{0}, b);
  EXPECT_FALSE(t.readable(PieceIndex{0}));
  t.block_written(PieceIndex{0}, 3);
  EXPECT_TRUE(t.readable(PieceIndex{0}));
}

TEST(PieceTracker, WrittenButNotPassedIsNotReadable) {
  PieceTracker t(kPiece, kPiece);
  write_piece(t, 0);
  EXPECT_FALSE(t.readable(PieceIndex{0}));
  t.piece_passed(PieceIndex{0});
  EXPECT_TRUE(t.readable(PieceIndex{0}));
  EXPECT_TRUE(t.all_passed());
}

TEST(PieceTracker, HashFailureForgetsWrittenBlocks) {
  PieceTracker t(2 * kPiece, kPiece);
  write_piece(t, 1);
  t.hash_failed(PieceIndex{1});
  t.piece_passed(PieceIndex{1});
  EXPECT_FALSE(t.readable(PieceIndex{1}));  // the good data is not on disk yet
  write_piece(t, 1);
  EXPECT_TRUE(t.readable(PieceIndex{1}));
}

TEST(PieceTracker, DuplicateBlockEventsCountOnce) {
  PieceTracker t(kPiece, kPiece);
  for (int i = 0; i < 4; ++i) t.block_written(PieceIndex{0}, 0);
  t.piece_passed(PieceIndex{0});
  EXPECT_FALSE(t.readable(PieceIndex{0}));
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
  for (uint32_t p : {0u, 1u, 3u}) {
    write_piece(t, p);
    t.piece_passed(PieceIndex{p});
  }
  EXPECT_EQ(t.readable_end(PieceIndex{0}), 2u * kPiece);
  EXPECT_EQ(t.readable_end(PieceIndex{2}), 2u * kPiece);        // not readable: its own start
  EXPECT_EQ(t.readable_end(PieceIndex{3}), 3u * kPiece + 100);  // clamped to the blob
}

TEST(PieceTracker, IgnoresOutOfRangeEvents) {
  PieceTracker t(kPiece, kPiece);
  t.block_written(PieceIndex{7}, 0);
  t.block_written(PieceIndex{0}, 99);
  t.piece_passed(PieceIndex{7});
  t.hash_failed(PieceIndex{7});
  EXPECT_EQ(t.passed_count(), 0u);
  EXPECT_FALSE(t.readable(PieceIndex{7}));
}

}  // namespace
}  // namespace shoal::peer
