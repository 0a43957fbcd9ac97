// Small helpers shared by the h3 client's translation units.
#pragma once

#include <arpa/inet.h>
#include <ngtcp2/ngtcp2.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::http::h3::detail {

// ngtcp2 wants nanoseconds on one monotonic clock for every call.
inline ngtcp2_tstamp now_ts() {
  return static_cast<ngtcp2_tstamp>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

template <class Rep, class Period>
ngtcp2_duration to_ns(std::chrono::duration<Rep, Period> d) {
  return static_cast<ngtcp2_duration>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

inline bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

inline std::string hex(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return "0x" + out;
}

// Text from the network for an error message: no control bytes, bounded length.
inline std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace shoal::http::h3::detail
