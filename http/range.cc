#include "http/range.h"

#include "core/text.h"

namespace shoal::http {
namespace {

using text::trim;

std::optional<uint64_t> parse_u64(std::string_view s) { return text::parse_uint<uint64_t>(s); }

}  // namespace

RangeDecision decide_range(std::string_view header, uint64_t size) {
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit)) return {};
  std::string_view spec = trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return {};
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));

  if (a.empty()) {  // suffix: the last N bytes
    auto n = parse_u64(b);
    if (!n) return {};
    if (*n == 0 || size == 0) return {RangeDecision::unsatisfiable, {}};
    uint64_t len = *n < size ? *n : size;
    return {RangeDecision::partial, {size - len, size - 1}};
  }
  auto first = parse_u64(a);
  if (!first) return {};
  std::optional<uint64_t> last;
  if (!b.empty()) {
    last = parse_u64(b);
    if (!last || *last < *first) return {};
  }
  if (*first >= size) return {RangeDecision::unsatisfiable, {}};
  uint64_t end = (!last || *last >= size) ? size - 1 : *last;
  return {RangeDecision::partial, {*first, end}};
}

std::optional<ContentRange> parse_content_range(std::string_view header) {
  std::string_view s = trim(header);
  std::optional<uint64_t> total;
  if (s.starts_with("bytes ")) {
    s = trim(s.substr(6));
    size_t slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view total_text = s.substr(slash + 1);
    if (total_text != "*") {
      total = parse_u64(total_text);
      if (!total) return std::nullopt;
    }
    s = s.substr(0, slash);
  }
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = parse_u64(s.substr(0, dash));
  auto last = parse_u64(s.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  if (total && *last >= *total) return std::nullopt;  // a chunk past the declared end
  return ContentRange{{*first, *last}, total};
}

}  // namespace shoal::http
