#include "http/blob_response.h"

#include <string>

#include "http/range.h"
#include "http/util.h"

namespace shoal::http {

using bhttp::field;
using bhttp::status;

Head blob_head(const Digest& d) {
  Head head;
  head.result(status::ok);
  head.set(field::etag, "\"" + d.str() + "\"");
  head.set("Docker-Content-Digest", d.str());
  head.set(field::cache_control, "public, max-age=31536000, immutable");
  head.set(field::accept_ranges, "bytes");
  head.set(field::content_type, "application/octet-stream");
  return head;
}

bool not_modified(const Exchange& ex, const Digest& d) {
  std::string_view header = ex.header(field::if_none_match);
  const std::string etag = "\"" + d.str() + "\"";
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

awaitable<std::optional<BodySpan>> apply_range(Exchange& ex, Head& head, uint64_t size) {
  BodySpan span{0, size};
  auto range_header = ex.header(field::range);
  if (range_header.empty()) co_return span;
  auto decision = decide_range(range_header, size);
  if (decision.kind == RangeDecision::unsatisfiable) {
    Head err;
    err.result(status::range_not_satisfiable);
    err.set(field::content_range, "bytes */" + std::to_string(size));
    err.set(field::content_type, "application/json");
    std::string body =
        ex.error_body("RANGE_NOT_SATISFIABLE", "the blob has " + std::to_string(size) + " bytes");
    co_await ex.respond(std::move(err), body);
    co_return std::nullopt;
  }
  if (decision.kind == RangeDecision::partial) {
    span = {decision.range.first, decision.range.length()};
    head.result(status::partial_content);
    head.set(field::content_range, "bytes " + std::to_string(decision.range.first) + "-" +
                                       std::to_string(decision.range.last) + "/" +
                                       std::to_string(size));
  }
  co_return span;
}

}  // namespace shoal::http
