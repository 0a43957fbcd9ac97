// What an agent tells the origin's hand-out about one download (Shoal-Held,
// Shoal-Overdue and Shoal-Endgame, origin/handout_ledger.h).
//
// A piece a peer announces is normally left to BitTorrent. But when the only peer
// holding it is slow (a host on a link ten times slower got it from the origin), every
// agent that wants it waits on that one link, and rarest-first sends them all there at
// once. So a piece seen at peers for several times as long as seen pieces usually take
// to arrive is overdue: the agent lists it in Shoal-Overdue and the origin sends it
// again (at most once every 0.5 s per piece: one copy spreads to every agent that
// waits on it). The same rule covers a peer that
// announces pieces and never delivers them. With only a few pieces missing, the agent
// reports only what it holds, as in BitTorrent's endgame.
// Sans-I/O: fed what libtorrent says and the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace shoal::peer {

class PieceWatch {
 public:
  using Clock = std::chrono::steady_clock;

  PieceWatch(uint32_t pieces, uint32_t endgame_pieces);

  struct Ask {
    std::vector<bool> bits;     // held, or (unless endgame) seen at a peer: Shoal-Held
    std::vector<bool> overdue;  // seen, but overdue: Shoal-Overdue (empty: none)
    bool endgame = false;       // bits lists only what is held
    uint32_t have = 0;
  };
  // have[i]: the agent holds piece i; holders[i]: how many connected peers announce it;
  // requested[i]: blocks of it are requested from a peer (libtorrent's download queue).
  Ask observe(const std::vector<bool>& have, const std::vector<int>& holders, Clock::time_point now,
              const std::vector<bool>& requested = {});

  // Piece i came from the origin: how long it waited says nothing of how fast peers
  // deliver (and counting it would stretch the limit each time it is reached).
  void from_origin(uint32_t i);

  // How long a seen piece may stay missing before it is overdue.
  Clock::duration overdue_after() const;
  // How long a requested piece may take before it is overdue. Waits from first sighting
  // include the agent's own queue (rarest first fetches some pieces seconds after it
  // saw them); from request to arrival they do not, so a piece stuck at a slow or
  // silent peer shows within a second or so.
  Clock::duration overdue_after_request() const;

 private:
  uint32_t endgame_pieces_;
  // While missing: since when some peer has announced it (cleared when none does).
  std::vector<Clock::time_point> since_;
  std::vector<bool> had_;
  std::vector<bool> from_origin_;
  double usual_ms_ = 0;  // smoothed time from the first sighting of a piece to holding it
  double request_ms_ = 0;  // smoothed time from requesting a piece to holding it
  std::vector<Clock::time_point> first_seen_;
  std::vector<Clock::time_point> requested_since_;  // while missing: since when it is requested
};

}  // namespace shoal::peer
