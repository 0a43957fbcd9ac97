#include "origin/handout_ledger.h"

#include <algorithm>
#include <optional>

namespace shoal::origin {

namespace {
using std::chrono::duration_cast;
// Before any delivery was timed, a transfer counts as stuck after this long.
constexpr double kFirstDeliveryMs = 10'000;
// A delivery is slow when it took this many times the usual and at least kSlowFloor
// (on fast links a piece's time varies by more than the factor); its agent then gets no
// first copy for kSlowFor, after which one more tells whether it still is. A transfer
// is stuck when it has taken kSlowFactor times the usual plus the regrant delay.
constexpr double kSlowFactor = 4;
constexpr HandoutLedger::Duration kSlowFloor{200};
constexpr HandoutLedger::Duration kSlowFor{10'000};
constexpr HandoutLedger::Duration kUnreportedFor{10'000};
// An overdue piece goes again at most this often: every agent waiting on the same slow
// peer finds it overdue at about the same time, and one copy, spreading over
// BitTorrent, is enough for all of them.
constexpr HandoutLedger::Duration kOverdueGap{500};

double ewma(double avg, double sample) { return avg == 0 ? sample : 0.875 * avg + 0.125 * sample; }
}  // namespace

HandoutLedger::HandoutLedger(uint32_t pieces, Duration regrant_after)
    : entries_(pieces), regrant_after_(regrant_after) {}

HandoutLedger::Duration HandoutLedger::usual() const {
  return Duration(static_cast<int64_t>(delivery_ms_ > 0 ? delivery_ms_ : kFirstDeliveryMs));
}

bool HandoutLedger::stuck(const Entry& e, Clock::time_point now) const {
  if (e.in_flight == 0) return false;
  return now - e.handed_at >= static_cast<int64_t>(kSlowFactor) * usual() + regrant_after_;
}

// When a delivered piece may go again to `agent`, which lacks it. A piece some other
// agent reported lately is in the swarm and spreads by itself, except to an agent in its
// endgame. One the asking agent itself reported last is gone from where it saw it (an
// eviction, a peer that died). Otherwise the piece is lost once nobody has shown a sign
// of it for kUnreportedFor: a delivery is the last byte going into the origin's socket,
// not into the agent, and an agent whose link is full of its peers' pieces may take
// seconds more to receive the tail (over 3 s at 25 Mbit/s on the test bed).
HandoutLedger::Clock::time_point HandoutLedger::ready_at(const Entry& e, Clock::time_point now,
                                                         AgentId agent, bool endgame) const {
  const bool mine = agent != 0 && e.reported && e.reported_by == agent;
  if (endgame || mine) return e.delivered_at + regrant_after_;
  const auto last_sign = std::max(e.delivered_at, e.reported_at);
  if (e.reported && now - e.reported_at < kUnreportedFor) return Clock::time_point::max();
  return last_sign + kUnreportedFor + static_cast<int64_t>(kSlowFactor) * usual();
}

bool HandoutLedger::slow(AgentId agent, Clock::time_point now) const {
  auto it = slow_until_.find(agent);
  return it != slow_until_.end() && now < it->second;
}

HandoutLedger::Pick HandoutLedger::hand(uint32_t i, Clock::time_point now, Pick::Reason why) {
  ++entries_[i].in_flight;
  entries_[i].handed_at = now;
  return Pick{Pick::Kind::piece, why, PieceIndex{i}, Duration(0)};
}

HandoutLedger::Pick HandoutLedger::pick(const std::vector<bool>& held, Clock::time_point now,
                                        AgentId agent, bool endgame,
                                        const std::vector<bool>& overdue) {
  const auto n = static_cast<uint32_t>(entries_.size());
  // First copies, in order: a reader on any agent gets the blob's start first.
  while (cursor_ < n && (entries_[cursor_].in_flight > 0 || entries_[cursor_].delivered > 0))
    ++cursor_;
  // An overdue piece is wanted like one the agent lacks: a peer that announces every
  // piece and sends none must not hide the pieces that never left the origin.
  const auto late = [&](uint32_t i) { return i < overdue.size() && overdue[i]; };
  const bool is_slow = slow(agent, now);
  for (uint32_t i = is_slow ? n : cursor_; i < n; ++i) {
    const Entry& e = entries_[i];
    if (e.in_flight == 0 && e.delivered == 0 && (lacks(held, i) || late(i)))
      return hand(i, now, Pick::Reason::first);
  }
  // No first copy for this agent. Again: what nobody reported, or what it lacks in its
  // endgame, longest waiting first; or (not to a slow agent) a piece stuck on its way.
  std::optional<uint32_t> best;
  Pick::Reason why = Pick::Reason::unseen;
  Clock::time_point best_at = Clock::time_point::max();
  Duration wait = Duration::max();
  bool lacking = false;
  for (uint32_t i = 0; i < n; ++i) {
    const bool is_late = late(i);
    if (!lacks(held, i) && !is_late) continue;
    lacking = true;
    const Entry& e = entries_[i];
    if (!is_slow && stuck(e, now)) {
      if (e.handed_at < best_at) best = i, best_at = e.handed_at, why = Pick::Reason::stuck;
      continue;
    }
    // On its way to someone, or a first copy kept for a faster agent.
    if (e.in_flight > 0 || e.delivered == 0) {
      wait = std::min(wait, regrant_after_);
      continue;
    }
    const auto ready = is_late ? e.delivered_at + kOverdueGap : ready_at(e, now, agent, endgame);
    if (ready <= now) {
      if (e.delivered_at < best_at) {
        best = i, best_at = e.delivered_at;
        why = is_late   ? Pick::Reason::overdue
              : endgame ? Pick::Reason::endgame
                        : Pick::Reason::unseen;
      }
    } else if (ready != Clock::time_point::max()) {
      wait = std::min(wait, duration_cast<Duration>(ready - now) + Duration(1));
    } else {
      wait = std::min(wait, regrant_after_);  // on its way through the swarm
    }
  }
  if (best) return hand(*best, now, why);
  if (!lacking) return Pick{};
  // Within the regrant delay at most: what the agent reports next may change the answer.
  return Pick{Pick::Kind::wait, Pick::Reason::first, PieceIndex{}, std::min(wait, regrant_after_)};
}

void HandoutLedger::report(const std::vector<bool>& held, Clock::time_point now, AgentId agent) {
  for (size_t i = 0; i < entries_.size() && i < held.size(); ++i) {
    if (!held[i]) continue;
    Entry& e = entries_[i];
    e.reported = true;
    e.reported_by = agent;
    e.reported_at = now;
  }
}

void HandoutLedger::delivered(PieceIndex p, Clock::time_point handed_at, Clock::time_point now,
                              AgentId agent) {
  if (p.value >= entries_.size()) return;
  Entry& e = entries_[p.value];
  if (e.in_flight > 0) {
    --e.in_flight;
    // At least 1 ms, so that a recorded agent always has a time to compare.
    const double took =
        std::max(1.0, static_cast<double>(duration_cast<Duration>(now - handed_at).count()));
    if (agent != 0 && delivery_ms_ > 0 && took > kSlowFactor * delivery_ms_ &&
        took >= static_cast<double>(kSlowFloor.count())) {
      slow_until_[agent] = now + kSlowFor;
    }
    delivery_ms_ = ewma(delivery_ms_, took);
  }
  if (e.delivered++ == 0) ++distinct_delivered_;
  e.delivered_at = now;
  ++deliveries_;
}

void HandoutLedger::aborted(PieceIndex p) {
  if (p.value >= entries_.size()) return;
  Entry& e = entries_[p.value];
  if (e.in_flight > 0) --e.in_flight;
  // Not delivered to anyone: it is a first copy again.
  if (e.in_flight == 0 && e.delivered == 0) cursor_ = std::min(cursor_, p.value);
}

}  // namespace shoal::origin
