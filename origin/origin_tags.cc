// Tag routes: PUT|GET|HEAD|DELETE /tags/<name>.
#include "http/offload.h"
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

}  // namespace

awaitable<void> Origin::tags(http::Exchange& ex, std::string_view raw_name) {
  // Clients may percent-encode ':' and '/'; the decoded name is what must pass the grammar.
  auto name = text::percent_decode(raw_name);
  if (!name || !valid_tag_name(*name)) {
    co_return co_await ex.respond_error(status::bad_request, "NAME_INVALID",
                                        "tag names are [A-Za-z0-9_][A-Za-z0-9._-]* components "
                                        "joined by '/', with an optional :tag");
  }
  const verb m = ex.method();
  if (m == verb::get || m == verb::head) {
    auto d = tags_.get(*name);
    if (!d) co_return co_await respond_failure(ex, d.error(), "TAG_UNKNOWN");
    http::Head head;
    head.result(status::ok);
    head.set(field::content_type, "text/plain");
    head.set("Docker-Content-Digest", d->str());
    head.set(field::cache_control, "no-cache");
    co_return co_await ex.respond(std::move(head), d->str());
  }
  if (m == verb::put) {
    std::string body;
    const BodySink sink = [&](const char* p, size_t n) -> Result<void> {
      body.append(p, n);
      return {};
    };
    auto got = co_await stream_body(ex, 256, sink);
    if (!got) co_return co_await respond_failure(ex, got.error(), "");
    auto d = Digest::parse(text::trim_space(body));
    if (!d) co_return co_await respond_failure(ex, d.error(), "");
    if (!store_->contains(*d)) {
      co_return co_await ex.respond_error(status::not_found, "BLOB_UNKNOWN",
                                          "no blob " + d->str() + " to tag");
    }
    auto put_tag = [&] { return tags_.put(*name, *d); };
    auto ok = co_await http::offload(put_tag);
    if (!ok) co_return co_await respond_failure(ex, ok.error(), "");
    http::Head head;
    head.result(status::created);
    head.set(field::location, "/tags/" + std::string(raw_name));
    head.set(field::content_type, "text/plain");
    co_return co_await ex.respond(std::move(head), d->str());
  }
  if (m == verb::delete_) {
    auto ok = tags_.remove(*name);
    if (!ok) co_return co_await respond_failure(ex, ok.error(), "TAG_UNKNOWN");
    http::Head head;
    head.result(status::no_content);
    co_return co_await ex.respond(std::move(head), "");
  }
  co_await respond_method_not_allowed(ex, "GET, HEAD, PUT, DELETE");
}

}  // namespace shoal::origin
