// Rate limits on work an HTTP/2 client can make the server do for free: streams it
// resets or makes the server reset (CVE-2023-44487 "rapid reset" and its variants),
// and SETTINGS and PING frames, which each cost an acknowledgement. Sans-I/O: the
// caller passes the time, so tests step it by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace shoal::http::h2 {

using Clock = std::chrono::steady_clock;

// Allows `burst` events at once, then `per_second` on average.
class TokenBucket {
 public:
  TokenBucket(uint32_t burst, uint32_t per_second);
  // False when the event is over the rate; it then costs nothing.
  bool take(Clock::time_point now);

 private:
  double capacity_;
  double rate_;
  double tokens_;
  Clock::time_point last_{};
  bool started_ = false;
};

struct FloodLimits {
  // Client RST_STREAMs plus resets the client provoked (malformed requests, refused
  // streams). A browser cancels a few per page; an attack sends thousands a second.
  uint32_t resets_per_second = 100;
  // Client SETTINGS and PING frames (not acknowledgements).
  uint32_t control_per_second = 50;
  // Bursts are this many seconds' worth of the rate.
  uint32_t burst_seconds = 2;
};

}  // namespace shoal::http::h2
