// Rate limits on work an HTTP/2 client can make the server do for free: streams it
// resets or makes the server reset (CVE-2023-44487 "rapid reset" and its variants),
// and SETTINGS and PING frames, which each cost an acknowledgement. Each is a token
// bucket (core/token_bucket.h) the session takes one token from per event.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "core/token_bucket.h"

namespace shoal::http::h2 {

using Clock = std::chrono::steady_clock;

struct FloodLimits {
  // Client RST_STREAMs plus resets the client provoked (malformed requests, refused
  // streams). A browser cancels a few per page; an attack sends thousands a second.
  uint32_t resets_per_second = 100;
  // Client SETTINGS and PING frames (not acknowledgements).
  uint32_t control_per_second = 50;
  // Bursts are this many seconds' worth of the rate.
  uint32_t burst_seconds = 2;

  TokenBucket::Limits resets() const { return bucket(resets_per_second); }
  TokenBucket::Limits control() const { return bucket(control_per_second); }

 private:
  // At least one event, so that a rate of 0 still allows the first.
  TokenBucket::Limits bucket(uint32_t per_second) const {
    const double burst = static_cast<double>(per_second) * burst_seconds;
    return {.rate_per_s = static_cast<double>(per_second), .burst = std::max(burst, 1.0)};
  }
};

}  // namespace shoal::http::h2
