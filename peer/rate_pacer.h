// Keeps an agent's hand-out (peer/handout_fetcher.h) within download_rate together with
// what BitTorrent receives: libtorrent's own limit does not see bytes that come over
// HTTP. A token bucket filled at the rate and drained by both: the hand-out yields to
// BitTorrent, which libtorrent caps at the same rate. Sans-I/O: fed totals and a clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/token_bucket.h"

namespace shoal::peer {

class RatePacer {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate`: bytes per second, > 0. Up to half a second's worth may come at once.
  explicit RatePacer(uint64_t rate);

  // Whether `bytes` may come in now (then they are counted), else how long to wait
  // before asking again. `others`: the running total of bytes received over BitTorrent.
  Clock::duration admit(uint64_t bytes, uint64_t others, Clock::time_point now);
  // Bytes admitted that did not come (the origin had no piece to give).
  void refund(uint64_t bytes);

 private:
  TokenBucket bucket_;
  uint64_t others_seen_ = 0;
  bool started_ = false;
};

}  // namespace shoal::peer
