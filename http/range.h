// Parsers for the byte-range headers Shoal accepts. Pure functions: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace shoal::http {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// Outcome of a Range request header against a representation of `size` bytes
// (RFC 9110 section 14). A header Shoal does not serve as a range (several
// ranges, other units, bad syntax) yields `whole`: the full 200 response, which
// the RFC permits for a Range header the server chooses to ignore.
struct RangeDecision {
  enum Kind { whole, partial, unsatisfiable } kind = whole;
  ByteRange range;
};

RangeDecision decide_range(std::string_view header, uint64_t size);

// A Content-Range, of a 206 response (RFC 9110 section 14.4) or of an upload chunk:
// "bytes A-B/TOTAL", "bytes A-B/*", or the OCI form "A-B". `total` is absent for "*"
// and the OCI form. ("bytes */TOTAL", of a 416, carries no range and is not accepted.)
struct ContentRange : ByteRange {
  std::optional<uint64_t> total;
  friend bool operator==(const ContentRange&, const ContentRange&) = default;
};

// nullopt when malformed, B < A, or B at or past TOTAL.
std::optional<ContentRange> parse_content_range(std::string_view header);

}  // namespace shoal::http
