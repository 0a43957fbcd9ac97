#include "peer/piece_watch.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

using ms = std::chrono::milliseconds;
const PieceWatch::Clock::time_point t0 = PieceWatch::Clock::time_point{} + std::chrono::hours(1);

TEST(PieceWatch, ReportsWhatItHoldsAndWhatPeersAnnounce) {
  PieceWatch w(8, 2);
  auto a = w.observe({true, false, false, false, false, false, false, false},
                     {0, 2, 1, 0, 0, 0, 0, 0}, t0);
  EXPECT_EQ(a.bits, (std::vector<bool>{true, true, true, false, false, false, false, false}));
  EXPECT_FALSE(a.endgame);
  EXPECT_TRUE(a.overdue.empty());
  EXPECT_EQ(a.have, 1u);
}

TEST(PieceWatch, WithOnlyAFewPiecesMissingReportsOnlyWhatItHolds) {
  PieceWatch w(4, 2);
  auto a = w.observe({true, true, false, false}, {3, 3, 3, 3}, t0);
  EXPECT_TRUE(a.endgame);
  EXPECT_EQ(a.bits, (std::vector<bool>{true, true, false, false}));
}

TEST(PieceWatch, APieceSeenForThreeTimesTheUsualWaitIsOverdue) {
  PieceWatch w(8, 0);
  std::vector<bool> have(8);
  std::vector<int> holders{1, 1, 0, 0, 0, 0, 0, 0};
  w.observe(have, holders, t0);
  // Piece 0 arrives 400 ms after it was seen: the usual wait is now 400 ms, but a piece
  // is overdue no sooner than 1 s after it was seen.
  have[0] = true;
  w.observe(have, holders, t0 + ms(400));
  EXPECT_EQ(w.overdue_after(), ms(1'200));
  EXPECT_TRUE(w.observe(have, holders, t0 + ms(1'199)).overdue.empty());
  auto a = w.observe(have, holders, t0 + ms(1'200));
  ASSERT_EQ(a.overdue.size(), 8u);
  EXPECT_TRUE(a.overdue[1]);
  EXPECT_FALSE(a.overdue[0]);  // held
  EXPECT_FALSE(a.overdue[2]);  // nobody has it: the origin hands it out anyway
  EXPECT_TRUE(a.bits[1]);      // still seen: only the origin's regrant rule changes
}

TEST(PieceWatch, APieceWhoseHoldersLeftStartsItsWaitAgain) {
  PieceWatch w(4, 0);
  std::vector<bool> have(4);
  w.observe(have, {1, 0, 0, 0}, t0);
  w.observe(have, {0, 0, 0, 0}, t0 + ms(900));
  w.observe(have, {1, 0, 0, 0}, t0 + ms(1'000));
  EXPECT_TRUE(w.observe(have, {1, 0, 0, 0}, t0 + ms(3'900)).overdue.empty());
  EXPECT_FALSE(w.observe(have, {1, 0, 0, 0}, t0 + ms(4'000)).overdue.empty());
}

TEST(PieceWatch, BeforeAnyPieceArrivedAPieceIsOverdueAfterThreeSeconds) {
  PieceWatch w(4, 0);
  std::vector<bool> have(4);
  const std::vector<int> all{1, 1, 1, 1};  // a peer that announces all and sends nothing
  w.observe(have, all, t0);
  EXPECT_TRUE(w.observe(have, all, t0 + ms(2'999)).overdue.empty());
  auto a = w.observe(have, all, t0 + ms(3'000));
  EXPECT_EQ(a.overdue, (std::vector<bool>{true, true, true, true}));
}

TEST(PieceWatch, APieceFromTheOriginDoesNotStretchTheUsualWait) {
  // A peer that announces every piece and sends none: pieces come from the origin once
  // overdue. Were their 3 s waits counted, the next limit would be 9 s, then 27 s.
  PieceWatch w(8, 0);
  std::vector<bool> have(8);
  const std::vector<int> holders(8, 1);
  w.observe(have, holders, t0);
  w.from_origin(0);
  have[0] = true;
  w.observe(have, holders, t0 + ms(3'000));
  EXPECT_EQ(w.overdue_after(), ms(3'000));
  EXPECT_EQ(w.observe(have, holders, t0 + ms(3'000)).overdue.size(), 8u);
}

TEST(PieceWatch, ARequestedPieceIsOverdueAfterThreeTimesTheUsualRequestTime) {
  // Every piece was seen long ago (a slow sighting-to-arrival average, from the agent's
  // own queue), but pieces come 100 ms after they are requested: one requested 1 s ago
  // from a slow peer is overdue, long before the sighting rule would say so.
  PieceWatch w(8, 0);
  std::vector<bool> have(8), asked(8);
  const std::vector<int> holders(8, 1);
  w.observe(have, holders, t0, asked);
  asked[0] = true;
  w.observe(have, holders, t0 + ms(5'000), asked);
  have[0] = true;
  asked[0] = false;
  w.observe(have, holders, t0 + ms(5'100), asked);  // seen 5.1 s, requested 0.1 s
  EXPECT_EQ(w.overdue_after(), ms(15'300));
  EXPECT_EQ(w.overdue_after_request(), ms(1'000));
  asked[1] = true;
  w.observe(have, holders, t0 + ms(5'200), asked);
  EXPECT_TRUE(w.observe(have, holders, t0 + ms(6'199), asked).overdue.empty());
  auto a = w.observe(have, holders, t0 + ms(6'200), asked);
  ASSERT_EQ(a.overdue.size(), 8u);
  EXPECT_TRUE(a.overdue[1]);
  EXPECT_FALSE(a.overdue[2]);  // seen as long, never requested
}

TEST(PieceWatch, ShortAnswersFromLibtorrentCountAsNothing) {
  PieceWatch w(4, 0);
  auto a = w.observe({}, {}, t0);
  EXPECT_EQ(a.bits, std::vector<bool>(4));
  EXPECT_EQ(a.have, 0u);
}

}  // namespace
}  // namespace shoal::peer
