// Tag routes: PUT|GET|HEAD|DELETE /tags/<name>, with If-Match / If-None-Match: * on
// writes. In a ring the copies live on the tag's owners (origin_tag_ring.cc).
#include "http/util.h"
#include "origin/body.h"
#include "origin/names.h"
#include "origin/origin.h"
#include "core/text.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;

std::string etag(const Digest& d) { return "\"" + d.str() + "\""; }

}  // namespace

awaitable<void> Origin::tags(http::Exchange& ex, std::string_view raw_name) {
  // Clients may percent-encode ':' and '/'; the decoded name is what must pass the grammar.
  auto name = text::percent_decode(raw_name);
  if (!name || !valid_tag_name(*name)) {
    co_return co_await ex.respond_error(status::bad_request, "NAME_INVALID",
                                        "tag names are [A-Za-z0-9_][A-Za-z0-9._-]* components "
                                        "joined by '/', with an optional :tag");
  }
  if (ex.query_param("replica")) co_return co_await tag_replica(ex, *name);
  const verb m = ex.method();
  if (m == verb::get || m == verb::head) {
    auto rec = co_await read_tag(*name);
    if (!rec) co_return co_await respond_failure(ex, rec.error(), "TAG_UNKNOWN");
    if (!rec->digest) {
      co_return co_await ex.respond_error(status::not_found, "TAG_UNKNOWN",
                                          "no tag \"" + *name + "\"");
    }
    http::Head head;
    head.result(status::ok);
    head.set(field::content_type, "text/plain");
    head.set("Docker-Content-Digest", rec->digest->str());
    head.set(field::etag, etag(*rec->digest));  // what If-Match names to change it safely
    head.set(field::cache_control, "no-cache");
    co_return co_await ex.respond(std::move(head), rec->digest->str());
  }
  if (m == verb::put) co_return co_await put_tag(ex, *name, raw_name);
  if (m == verb::delete_) co_return co_await delete_tag(ex, *name);
  co_await respond_method_not_allowed(ex, "GET, HEAD, PUT, DELETE");
}

awaitable<void> Origin::put_tag(http::Exchange& ex, const std::string& name,
                                std::string_view raw) {
  auto pre = TagPrecondition::parse(ex.header(field::if_match), ex.header(field::if_none_match));
  if (!pre) co_return co_await respond_failure(ex, pre.error(), "");
  std::string body;
  const BodySink sink = [&](const char* p, size_t n) -> Result<void> {
    body.append(p, n);
    return {};
  };
  auto got = co_await stream_body(ex, 256, sink);
  if (!got) co_return co_await respond_failure(ex, got.error(), "");
  auto d = Digest::parse(text::trim_space(body));
  if (!d) co_return co_await respond_failure(ex, d.error(), "");
  // A write forwarded by another origin (?coordinate) was checked there already.
  const bool here = ex.query_param("coordinate").has_value();
  // Touched: a garbage collection running now keeps it.
  if (!here && !co_await hold_for_push(*d)) {
    co_return co_await ex.respond_error(status::not_found, "BLOB_UNKNOWN",
                                        "no blob " + d->str() + " to tag");
  }
  auto written = co_await write_tag(name, TagChange{*d, *pre}, here);
  if (!written) co_return co_await respond_failure(ex, written.error(), "TAG_UNKNOWN");
  http::Head head;
  head.result(status::created);
  head.set(field::location, "/tags/" + std::string(raw));
  head.set(field::content_type, "text/plain");
  head.set(field::etag, etag(*d));
  co_await ex.respond(std::move(head), d->str());
}

awaitable<void> Origin::delete_tag(http::Exchange& ex, const std::string& name) {
  auto pre = TagPrecondition::parse(ex.header(field::if_match), ex.header(field::if_none_match));
  if (!pre) co_return co_await respond_failure(ex, pre.error(), "");
  const bool here = ex.query_param("coordinate").has_value();
  auto written = co_await write_tag(name, TagChange{std::nullopt, *pre}, here);
  if (!written) co_return co_await respond_failure(ex, written.error(), "TAG_UNKNOWN");
  http::Head head;
  head.result(status::no_content);
  co_await ex.respond(std::move(head), "");
}

}  // namespace shoal::origin
