#include "peer/rate_pacer.h"

#include <algorithm>

namespace shoal::peer {

RatePacer::RatePacer(uint64_t rate)
    : bucket_({.rate_per_s = static_cast<double>(rate), .burst = static_cast<double>(rate) / 2}) {}

RatePacer::Clock::duration RatePacer::admit(uint64_t bytes, uint64_t others,
                                            Clock::time_point now) {
  if (!started_) {
    started_ = true;
    others_seen_ = others;
  }
  if (others > others_seen_) bucket_.take(static_cast<double>(others - others_seen_), now);
  others_seen_ = std::max(others_seen_, others);
  if (bucket_.available(now) < 0) {
    // Never less than a millisecond: a caller that asks again at once makes no progress.
    return std::max<Clock::duration>(std::chrono::milliseconds(1), bucket_.retry_after(0, now));
  }
  // May go below zero: a piece larger than the burst still comes, and the next waits.
  bucket_.take(static_cast<double>(bytes), now);
  return Clock::duration::zero();
}

void RatePacer::refund(uint64_t bytes) { bucket_.give(static_cast<double>(bytes)); }

}  // namespace shoal::peer
