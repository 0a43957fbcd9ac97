#include "peer/rate_pacer.h"

#include <algorithm>

namespace shoal::peer {

RatePacer::RatePacer(uint64_t rate)
    : rate_(static_cast<double>(rate)), burst_(rate_ / 2), tokens_(burst_) {}

RatePacer::Clock::duration RatePacer::admit(uint64_t bytes, uint64_t others,
                                            Clock::time_point now) {
  if (!started_) {
    started_ = true;
    at_ = now;
    others_seen_ = others;
  }
  const double elapsed = std::chrono::duration<double>(now - at_).count();
  at_ = now;
  tokens_ = std::min(burst_, tokens_ + rate_ * std::max(0.0, elapsed));
  if (others > others_seen_) tokens_ -= static_cast<double>(others - others_seen_);
  others_seen_ = std::max(others_seen_, others);
  if (tokens_ < 0) {
    // Never less than a millisecond: a caller that asks again at once makes no progress.
    return std::max<Clock::duration>(std::chrono::milliseconds(1),
                                     std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(-tokens_ / rate_)));
  }
  // May go below zero: a piece larger than the burst still comes, and the next waits.
  tokens_ -= static_cast<double>(bytes);
  return Clock::duration::zero();
}

void RatePacer::refund(uint64_t bytes) {
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(bytes));
}

}  // namespace shoal::peer
