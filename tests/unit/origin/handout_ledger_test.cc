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
  l.delivered(a.piece, t0 + ms(100));
  l.delivered(b.piece, t0 + ms(300));
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
  l.delivered(a.piece, t0 + ms(100));
  auto slow = l.pick({true, false}, t0 + ms(100));
  ASSERT_EQ(slow.kind, Kind::piece);
  EXPECT_EQ(l.pick({true, false}, t0 + ms(1'000)).kind, Kind::wait);
  // 4 x 100 ms + the regrant delay later, the slow agent's piece is handed out again.
  auto again = l.pick({true, false}, t0 + ms(100 + 400 + 2'000));
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.piece, slow.piece);
}

TEST(HandoutLedger, OutOfRangeReportsAreIgnored) {
  HandoutLedger l(1, kRegrant);
  l.delivered(PieceIndex{7}, t0);
  l.aborted(PieceIndex{7});
  EXPECT_EQ(l.pieces_delivered(), 0u);
  EXPECT_EQ(l.pick({}, t0).kind, Kind::piece);
}

}  // namespace
}  // namespace shoal::origin
