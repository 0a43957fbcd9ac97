#include "http/h2/flood.h"

#include <algorithm>

namespace shoal::http::h2 {

TokenBucket::TokenBucket(uint32_t burst, uint32_t per_second)
    : capacity_(std::max<uint32_t>(burst, 1)), rate_(per_second), tokens_(capacity_) {}

bool TokenBucket::take(Clock::time_point now) {
  if (started_ && now > last_) {
    std::chrono::duration<double> elapsed = now - last_;
    tokens_ = std::min(capacity_, tokens_ + elapsed.count() * rate_);
  }
  if (!started_ || now > last_) last_ = now;
  started_ = true;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace shoal::http::h2
