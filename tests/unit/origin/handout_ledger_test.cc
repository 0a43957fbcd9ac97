#include "origin/handout_ledger.h"

#include <gtest/gtest.h>

#include <set>

namespace shoal::origin {
namespace {

using Kind = HandoutLedger::Pick::Kind;
using ms = std::chrono::milliseconds;
constexpr ms kRegrant{2'000};
const HandoutLedger::Clock::time_point t0{};

TEST(HandoutLedger, EachPieceGoesOutOnceInOrderWhileAnyIsLeft) {
  HandoutLedger l(4, kRegrant);
  std::set<uint32_t> out;
  for (int agent = 0; agent < 4; ++agent) {
    auto p = l.pick({}, t0);
    ASSERT_EQ(p.kind, Kind::piece);
    EXPECT_EQ(p.piece.value, static_cast<uint32_t>(agent));  // lowest first
    out.insert(p.piece.value);
  }
  EXPECT_EQ(out.size(), 4u);
  // All four in flight: a fifth agent waits rather than getting a copy.
  auto p = l.pick({}, t0);
  EXPECT_EQ(p.kind, Kind::wait);
  EXPECT_GT(p.wait.count(), 0);
}

TEST(HandoutLedger, SkipsWhatTheAgentHoldsOrSees) {
  HandoutLedger l(4, kRegrant);
  auto p = l.pick({true, true, false, true}, t0);
  ASSERT_EQ(p.kind, Kind::piece);
  EXPECT_EQ(p.piece.value, 2u);
  EXPECT_EQ(l.pick({true, true, true, true}, t0).kind, Kind::done);
}

TEST(HandoutLedger, ADeliveredPieceGoesOutAgainOnlyAfterItsHolderHadTimeToAnnounceIt) {
  HandoutLedger l(2, kRegrant);
  auto a = l.pick({}, t0);
  auto b = l.pick({}, t0);
  l.delivered(a.piece, t0, t0 + ms(100));
  l.delivered(b.piece, t0, t0 + ms(300));
  EXPECT_EQ(l.pieces_delivered(), 2u);
  // An agent that sees neither piece, soon after: wait until the first may go again.
  auto w = l.pick({}, t0 + ms(1'000));
  ASSERT_EQ(w.kind, Kind::wait);
  EXPECT_EQ(w.wait, ms(1'101));
  // Later, it gets the piece that left longest ago.
  auto again = l.pick({}, t0 + ms(2'200));
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.piece, a.piece);
  EXPECT_EQ(l.pieces_delivered(), 2u);
}

TEST(HandoutLedger, AnAbortedPieceIsAFirstCopyAgain) {
  HandoutLedger l(3, kRegrant);
  auto a = l.pick({}, t0);
  auto b = l.pick({}, t0);
  l.aborted(a.piece);
  auto c = l.pick({}, t0);
  ASSERT_EQ(c.kind, Kind::piece);
  EXPECT_EQ(c.piece, a.piece);
  EXPECT_NE(c.piece, b.piece);
  EXPECT_EQ(l.pieces_delivered(), 0u);
}

TEST(HandoutLedger, APieceStuckInFlightGoesToSomeoneElse) {
  HandoutLedger l(2, kRegrant);
  // One quick delivery sets what "usual" is: 100 ms.
  auto a = l.pick({}, t0);
  l.delivered(a.piece, t0, t0 + ms(100));
  auto slow = l.pick({true, false}, t0 + ms(100));
  ASSERT_EQ(slow.kind, Kind::piece);
  // 4 x 100 ms + 250 ms later, the slow agent's piece is handed out again.
  EXPECT_EQ(l.pick({true, false}, t0 + ms(100 + 400 + 200)).kind, Kind::wait);
  auto again = l.pick({true, false}, t0 + ms(100 + 400 + 250));
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.piece, slow.piece);
}

TEST(HandoutLedger, AnAgentFourTimesSlowerThanUsualGetsNoFirstCopiesForAWhile) {
  HandoutLedger l(8, kRegrant);
  constexpr HandoutLedger::AgentId kFast = 1, kSlow = 2;
  for (int i = 0; i < 3; ++i) {
    auto p = l.pick({}, t0, kFast);
    l.delivered(p.piece, t0, t0 + ms(100), kFast);
  }
  auto s = l.pick({}, t0, kSlow);
  ASSERT_EQ(s.kind, Kind::piece);  // not known to be slow yet
  l.delivered(s.piece, t0, t0 + ms(2'000), kSlow);
  // Pieces 4 to 7 have never left, yet the slow agent is told to wait for them...
  auto w = l.pick({true, true, true, true, false, false, false, false}, t0 + ms(2'000), kSlow);
  EXPECT_EQ(w.kind, Kind::wait);
  // ...while a fast one, or one that says nothing of itself, gets them.
  EXPECT_EQ(l.pick({}, t0 + ms(2'000), kFast).piece.value, 4u);
  EXPECT_EQ(l.pick({}, t0 + ms(2'000)).piece.value, 5u);
  // Ten seconds on, it may show it is faster now.
  auto later = l.pick({true, true, true, true, true, true, false, false}, t0 + ms(12'000), kSlow);
  ASSERT_EQ(later.kind, Kind::piece);
  EXPECT_EQ(later.piece.value, 6u);
}

TEST(HandoutLedger, AQuickPieceIsNeverSlowOnAFastLink) {
  HandoutLedger l(4, kRegrant);
  auto a = l.pick({}, t0, 1);
  l.delivered(a.piece, t0, t0 + ms(10), 1);
  auto b = l.pick({}, t0, 2);
  l.delivered(b.piece, t0, t0 + ms(900), 2);  // 90 x the usual, but under a second
  EXPECT_EQ(l.pick({}, t0 + ms(900), 2).kind, Kind::piece);
}

TEST(HandoutLedger, OutOfRangeReportsAreIgnored) {
  HandoutLedger l(1, kRegrant);
  l.delivered(PieceIndex{7}, t0, t0);
  l.aborted(PieceIndex{7});
  EXPECT_EQ(l.pieces_delivered(), 0u);
  EXPECT_EQ(l.pick({}, t0).kind, Kind::piece);
}

}  // namespace
}  // namespace shoal::origin
