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

TEST(HandoutLedger, APieceNobodyReportedGoesOutAgainOnceItsHolderHadTimeToReportIt) {
  HandoutLedger l(2, kRegrant);
  auto a = l.pick({}, t0);
  auto b = l.pick({}, t0);
  l.delivered(a.piece, t0, t0 + ms(100));
  l.delivered(b.piece, t0, t0 + ms(100));
  EXPECT_EQ(l.pieces_delivered(), 2u);
  // Usual delivery: 100 ms. A piece may go again 10 s + 4 x 100 ms after it left.
  auto w = l.pick({}, t0 + ms(1'000));
  ASSERT_EQ(w.kind, Kind::wait);
  EXPECT_EQ(w.wait, ms(2'000));  // asks again after the regrant delay at most
  EXPECT_EQ(l.pick({}, t0 + ms(10'400)).kind, Kind::wait);
  auto again = l.pick({}, t0 + ms(10'500));
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.piece, a.piece);
  EXPECT_EQ(again.reason, HandoutLedger::Pick::Reason::unseen);
  EXPECT_EQ(l.pieces_delivered(), 2u);
}

TEST(HandoutLedger, APieceAnotherAgentReportedLatelyGoesAgainOnlyToAnAgentInItsEndgame) {
  HandoutLedger l(1, kRegrant);
  auto a = l.pick({}, t0, 1);
  l.delivered(a.piece, t0, t0 + ms(100), 1);
  l.report({true}, t0 + ms(200), 2);  // agent 2 holds or sees it: it is in the swarm
  EXPECT_EQ(l.pick({false}, t0 + ms(5'000), 3).kind, Kind::wait);
  auto end = l.pick({false}, t0 + ms(5'000), 3, true);
  ASSERT_EQ(end.kind, Kind::piece);
  EXPECT_EQ(end.reason, HandoutLedger::Pick::Reason::endgame);
  l.delivered(end.piece, t0 + ms(5'000), t0 + ms(5'100), 3);
  // Nobody has reported it for 10 s (plus 4 x the usual 100 ms): gone, say, with agent 2.
  EXPECT_EQ(l.pick({false}, t0 + ms(10'500), 4).kind, Kind::wait);
  auto lost = l.pick({false}, t0 + ms(15'600), 4);
  ASSERT_EQ(lost.kind, Kind::piece);
  EXPECT_EQ(lost.reason, HandoutLedger::Pick::Reason::unseen);
}

TEST(HandoutLedger, APieceAnAgentReportedAndNoLongerHasGoesBackToIt) {
  HandoutLedger l(1, kRegrant);
  auto a = l.pick({}, t0, 1);
  l.delivered(a.piece, t0, t0 + ms(100), 1);
  l.report({true}, t0 + ms(200), 1);
  // Agent 1 evicted the blob and wants it again; nobody else ever said they had it.
  EXPECT_EQ(l.pick({false}, t0 + ms(1'000), 1).kind, Kind::wait);  // 2 s after it left
  auto again = l.pick({false}, t0 + ms(2'100), 1);
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.reason, HandoutLedger::Pick::Reason::unseen);
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
  // 4 x 100 ms + 2 s later, the slow agent's piece is handed out again.
  EXPECT_EQ(l.pick({true, false}, t0 + ms(100 + 400 + 1'900)).kind, Kind::wait);
  auto again = l.pick({true, false}, t0 + ms(100 + 400 + 2'000));
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.reason, HandoutLedger::Pick::Reason::stuck);
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
  l.delivered(b.piece, t0, t0 + ms(150), 2);  // 15 x the usual, but under 0.2 s
  EXPECT_EQ(l.pick({}, t0 + ms(150), 2).kind, Kind::piece);
}

TEST(HandoutLedger, AnOverduePieceGoesAgainOnceItHasNotLeftForHalfASecond) {
  HandoutLedger l(1, kRegrant);
  auto a = l.pick({}, t0, 1);
  l.delivered(a.piece, t0, t0 + ms(100), 1);
  l.report({true}, t0 + ms(200), 1);   // agent 1 holds it: it is in the swarm
  const std::vector<bool> sees{true};  // agent 2 sees it at a peer...
  const std::vector<bool> late{true};  // ...and has waited for it too long
  EXPECT_EQ(l.pick(sees, t0 + ms(300), 2).kind, Kind::done);  // without Shoal-Overdue
  EXPECT_EQ(l.pick(sees, t0 + ms(599), 2, false, late).kind, Kind::wait);
  auto again = l.pick(sees, t0 + ms(600), 2, false, late);
  ASSERT_EQ(again.kind, Kind::piece);
  EXPECT_EQ(again.piece, a.piece);
  EXPECT_EQ(again.reason, HandoutLedger::Pick::Reason::overdue);
  l.delivered(again.piece, t0 + ms(600), t0 + ms(650), 2);
  // Agent 3 waits on the same peer: it gets the piece only half a second after it left.
  EXPECT_EQ(l.pick(sees, t0 + ms(1'000), 3, false, late).kind, Kind::wait);
  EXPECT_EQ(l.pick(sees, t0 + ms(1'150), 3, false, late).reason,
            HandoutLedger::Pick::Reason::overdue);
}

TEST(HandoutLedger, AnOverduePieceThatNeverLeftGoesAsAFirstCopy) {
  // A peer that announces every piece and answers no request: the agent sees all of
  // them, so Shoal-Held is full, and only Shoal-Overdue says what it still needs.
  HandoutLedger l(2, kRegrant);
  const std::vector<bool> sees{true, true};
  EXPECT_EQ(l.pick(sees, t0, 1).kind, Kind::done);
  auto p = l.pick(sees, t0 + ms(3'000), 1, false, {false, true});
  ASSERT_EQ(p.kind, Kind::piece);
  EXPECT_EQ(p.piece.value, 1u);
  EXPECT_EQ(p.reason, HandoutLedger::Pick::Reason::first);
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
