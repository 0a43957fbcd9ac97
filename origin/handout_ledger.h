// Which piece of one blob the origin hands to an agent next (GET
// /blobs/<digest>/handout): the origin decides, so that each piece leaves it once.
//
// In a plain BitTorrent swarm every leecher picks the rarest pieces on its own, and the
// rarest are those only the seed holds: two leechers ask the seed for the same piece
// before either has announced it, and a third to a half of the seed's upload repeats
// itself (docs/BENCHMARKS.md, "Test bed"). Here the agent tells which pieces it holds
// or sees at a peer, and the ledger answers with one it has not handed to anyone yet,
// lowest index first. A piece goes out again only when no agent has reported it since
// it left (its holder died, or is slow), when its transfer is stuck, or to an agent in
// its endgame (a few pieces missing: the one peer that has them may be slow). An
// agent whose last delivery took several times the usual is given no first copies for
// a while: the others would wait on it for pieces only it holds.
// Sans-I/O: fed the clock, unit-tested without sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "core/torrent/piece_index.h"

namespace shoal::origin {

class HandoutLedger {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = std::chrono::milliseconds;

  struct Pick {
    enum class Kind {
      piece,  // hand out `piece`; report delivered() or aborted()
      wait,   // nothing now: every piece the agent lacks is on its way to someone
      done,   // the agent holds or sees every piece
    };
    // For Kind::piece: why this one (the origin counts them apart).
    enum class Reason {
      first,    // never handed out before
      unseen,   // it left, but no agent has reported it since
      stuck,    // on its way to another agent for far too long
      endgame,  // to an agent missing only a few pieces, which asks for what it lacks
      overdue,  // an agent sees it at a peer, which has not delivered it for far too long
    };
    Kind kind = Kind::done;
    Reason reason = Reason::first;
    PieceIndex piece{};
    Duration wait{0};  // for Kind::wait: when asking again may get a piece
  };

  // `regrant_after`: how long after a piece left, a holder must have announced it
  // before the piece goes out again to an agent that still cannot see it.
  HandoutLedger(uint32_t pieces, Duration regrant_after);

  // Who asks: an id the agent chose (0: unknown, never counted as slow).
  using AgentId = uint64_t;

  // `held[i]`: the agent holds piece i or sees it at a peer, or, when `endgame`, holds
  // it; a shorter vector counts as padded with false. Call report() with it first. A
  // piece picked counts as in flight until delivered or aborted. `overdue[i]`: the agent
  // sees piece i at a peer but has waited for it several times as long as pieces take:
  // it may go again, once it has not left the origin for kOverdueGap.
  Pick pick(const std::vector<bool>& held, Clock::time_point now, AgentId agent = 0,
            bool endgame = false, const std::vector<bool>& overdue = {});
  // What an agent said it holds or sees, as soon as it says it (pick() may come later,
  // once the origin has a sending slot for it): those pieces are in the swarm.
  void report(const std::vector<bool>& held, Clock::time_point now, AgentId agent = 0);
  // `handed_at`: when that agent's pick() returned p (a piece may be in flight to two).
  void delivered(PieceIndex p, Clock::time_point handed_at, Clock::time_point now,
                 AgentId agent = 0);
  void aborted(PieceIndex p);

  uint32_t pieces() const { return static_cast<uint32_t>(entries_.size()); }
  // Pieces delivered at least once: once this equals pieces(), the blob has left.
  uint32_t pieces_delivered() const { return distinct_delivered_; }
  uint64_t deliveries() const { return deliveries_; }

 private:
  struct Entry {
    uint32_t in_flight = 0;
    uint32_t delivered = 0;
    Clock::time_point handed_at{};     // the latest hand-out of this piece
    Clock::time_point delivered_at{};  // the latest delivery
    // The latest agent to say it holds or sees the piece, and when.
    bool reported = false;
    AgentId reported_by = 0;
    Clock::time_point reported_at{};
  };
  bool lacks(const std::vector<bool>& held, uint32_t i) const {
    return i >= held.size() || !held[i];
  }
  // In flight for far longer than a delivery takes: its agent is slow or gone.
  bool stuck(const Entry& e, Clock::time_point now) const;
  // When a delivered piece may go again to an agent that lacks it.
  Clock::time_point ready_at(const Entry& e, Clock::time_point now, AgentId agent,
                             bool endgame) const;
  Duration usual() const;
  bool slow(AgentId agent, Clock::time_point now) const;
  Pick hand(uint32_t i, Clock::time_point now, Pick::Reason why);

  std::vector<Entry> entries_;
  Duration regrant_after_;
  uint32_t cursor_ = 0;  // every piece below it has been handed out at least once
  uint32_t distinct_delivered_ = 0;
  uint64_t deliveries_ = 0;
  // Smoothed time from hand-out to delivery, to tell a stuck transfer from a slow one.
  double delivery_ms_ = 0;
  // Agents whose last delivery was slow, and until when they get no first copies.
  std::map<AgentId, Clock::time_point> slow_until_;
};

}  // namespace shoal::origin
