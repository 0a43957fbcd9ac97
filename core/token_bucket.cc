#include "core/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shoal {
namespace {

// Balances are doubles: refills like 0.3 tokens/s × 10/3 s land a hair under the
// whole number. Waiting exactly retry_after must be enough, so comparisons allow
// this much.
constexpr double kSlack = 1e-9;

double seconds_between(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

TokenBucket::TokenBucket(Limits limits)
    : rate_(std::max(limits.rate_per_s, 0.0)),
      burst_(std::max(limits.burst, 0.0)),
      tokens_(burst_) {}

double TokenBucket::available(SteadyTime now) const {
  // A time before the last one (callers on other threads read the clock earlier but
  // got the lock later) adds nothing rather than going back.
  if (now <= last_) return tokens_;
  return std::min(burst_, tokens_ + rate_ * seconds_between(last_, now));
}

void TokenBucket::refill(SteadyTime now) {
  tokens_ = available(now);
  last_ = std::max(last_, now);
}

bool TokenBucket::try_take(double n, SteadyTime now) {
  refill(now);
  if (tokens_ + kSlack < n) return false;
  tokens_ -= n;
  return true;
}

void TokenBucket::take(double n, SteadyTime now) {
  refill(now);
  tokens_ -= n;
}

void TokenBucket::give(double n) { tokens_ = std::min(burst_, tokens_ + std::max(n, 0.0)); }

std::chrono::milliseconds TokenBucket::retry_after(double n, SteadyTime now) const {
  using std::chrono::milliseconds;
  double missing = n - available(now);
  if (missing <= kSlack) return milliseconds(0);
  if (rate_ <= 0 || n > burst_ + kSlack) return milliseconds::max();
  double ms = std::ceil(missing / rate_ * 1000.0);
  if (ms >= static_cast<double>(std::numeric_limits<milliseconds::rep>::max())) {
    return milliseconds::max();
  }
  return milliseconds(static_cast<milliseconds::rep>(ms));
}

}  // namespace shoal
