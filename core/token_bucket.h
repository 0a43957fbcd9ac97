// The one token bucket: the edge's per-client limits, HTTP/2's flood limits and the
// peer agent's hand-out pacing all meter with it. Sans-I/O: every call takes the time,
// so tests step a clock by hand and nothing here sleeps or reads a clock.
#pragma once

#include <chrono>

namespace shoal {

using SteadyTime = std::chrono::steady_clock::time_point;

// Tokens accrue at `rate_per_s` up to `burst`; a new bucket is full. The balance may
// go negative through take(): bytes are debited after they are sent, when their
// number is known, and the debt is paid back before the next admission.
class TokenBucket {
 public:
  // Both numbers named at every call site, so that they cannot be swapped:
  // TokenBucket({.rate_per_s = 100, .burst = 200}). Negative values count as 0.
  struct Limits {
    double rate_per_s = 0;
    double burst = 0;
  };

  explicit TokenBucket(Limits limits);

  // Takes n tokens if they are all there; a refused take costs nothing.
  bool try_take(double n, SteadyTime now);
  // Takes n tokens unconditionally.
  void take(double n, SteadyTime now);
  // Gives back n tokens taken for work that did not happen (never above burst).
  void give(double n);
  // The balance at `now` (at most burst, negative while in debt).
  double available(SteadyTime now) const;
  // How long until n tokens are there: zero if they are now, rounded up to the next
  // millisecond otherwise, milliseconds::max() if never (n above burst, or rate 0).
  std::chrono::milliseconds retry_after(double n, SteadyTime now) const;
  // Whether the bucket is full at `now`, so forgetting it changes nothing.
  bool full(SteadyTime now) const { return available(now) >= burst_; }

  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  void refill(SteadyTime now);

  double rate_;
  double burst_;
  double tokens_;
  // The epoch: the first refill tops a new bucket up to burst, which it already is.
  SteadyTime last_{};
};

}  // namespace shoal
