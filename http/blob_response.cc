#include "http/blob_response.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "core/text.h"
#include "http/range.h"

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
    tag = text::trim(tag);  // list elements may carry OWS (RFC 9110 5.6.1)
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

awaitable<std::optional<BodySpan>> begin_blob(Exchange& ex, Head& head, const Digest& d,
                                              uint64_t size) {
  if (not_modified(ex, d)) {
    head.result(status::not_modified);
    co_await ex.respond(std::move(head), "");
    co_return std::nullopt;
  }
  co_return co_await apply_range(ex, head, size);
}

awaitable<void> respond_blob_file(Exchange& ex, Head head, const Digest& d, int fd,
                                  uint64_t size) {
  auto span = co_await begin_blob(ex, head, d, size);
  if (!span) co_return;
  co_await ex.respond_file(std::move(head), fd, span->offset, span->length);
}

awaitable<void> respond_blob_bytes(Exchange& ex, Head head, const Digest& d,
                                   std::string_view bytes) {
  auto span = co_await begin_blob(ex, head, d, bytes.size());
  if (!span) co_return;
  co_await ex.respond(std::move(head), bytes.substr(span->offset, span->length));
}

awaitable<void> respond_blob_head(Exchange& ex, Head head, const Digest& d, uint64_t size) {
  auto span = co_await begin_blob(ex, head, d, size);
  if (!span) co_return;
  co_await ex.start_body(std::move(head), span->length);
}

awaitable<StreamEnd> stream_blob(Exchange& ex, Head head, const Digest& d, GrowingFile file) {
  StreamEnd result;
  auto span = co_await begin_blob(ex, head, d, file.size);
  if (!span) co_return result;
  bool send_body = co_await ex.start_body(std::move(head), span->length);
  if (!send_body) co_return result;
  const uint64_t end = span->offset + span->length;
  uint64_t pos = span->offset;
  while (pos < end) {
    // Read before the check, so a change between the two is not waited out.
    uint64_t seen = file.changed.version();
    auto readable = file.readable_end(pos);
    if (!readable) {
      result.source_failed = true;
      break;
    }
    uint64_t stop = std::min(*readable, end);
    if (stop > pos) {
      bool sent = co_await ex.send_file_part(file.fd(), pos, stop - pos);
      if (!sent) break;
      pos = stop;
      continue;
    }
    co_await file.changed.wait(seen, std::chrono::seconds(1));
  }
  result.sent = pos - span->offset;
  co_return result;
}

}  // namespace shoal::http
