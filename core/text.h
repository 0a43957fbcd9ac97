// Text helpers every layer shares: whole-string integer parsing, trimming, hex digits,
// JSON string escaping and percent-decoding. Written once so that every parser agrees
// on the edge cases (empty input, signs, spaces, overflow). Pure functions.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::text {

// The whole string as an unsigned integer in `base`: digits only (no sign, no spaces,
// no "0x"), nothing after them, no overflow. Empty input is not a number.
template <std::unsigned_integral T = uint64_t>
std::optional<T> parse_uint(std::string_view s, int base = 10) {
  if (s.empty()) return std::nullopt;
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The same for a signed integer: an optional leading '-', then digits only.
template <std::signed_integral T = int64_t>
std::optional<T> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Without leading and trailing spaces and tabs (HTTP's OWS); "" stays "".
std::string_view trim(std::string_view s);
// Without leading and trailing whitespace of any kind (spaces, tabs, CR, LF, ...).
std::string_view trim_space(std::string_view s);

// ASCII case-insensitive equality (HTTP field names, auth schemes: RFC 9110).
bool iequals(std::string_view a, std::string_view b);
// 0-15 for a hex digit of either case, -1 for anything else.
int hex_digit(char c);
// Escapes a string for inclusion inside JSON double quotes.
std::string json_escape(std::string_view s);
// Decodes %XX and '+' (as space in queries only when plus_as_space); nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space = false);

}  // namespace shoal::text
