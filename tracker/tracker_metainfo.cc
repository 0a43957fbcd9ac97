// GET /metainfo/<digest>: the blob's metainfo, fetched once from the origins (the
// first that answers, http/upstreams.h) and then served from a bounded in-memory
// cache. The blocking HTTP client runs on the outbound pool (http::outbound), never
// on the event loop.
#include "core/digest.h"
#include "http/client.h"
#include "core/log.h"
#include "http/outbound.h"
#include "tracker/bencode.h"
#include "tracker/tracker.h"

namespace shoal::tracker {
namespace {

using bhttp::status;

// What the origin answered, reduced to what the handler needs.
struct Fetched {
  unsigned status = 0;  // 200, 404, or 0 when the origin could not be asked
  std::string body;     // the metainfo, or the reason for failure
};

Fetched fetch_from_origins(http::Upstreams& origins, const std::string& digest,
                           std::chrono::milliseconds timeout) {
  http::ClientOptions copts;
  copts.connect_timeout = std::min(timeout, std::chrono::milliseconds(10'000));
  copts.io_timeout = timeout;
  copts.user_agent = "shoal-tracker";
  auto r = origins.first_answer([&](const Url& origin) {
    http::Client client(origin, copts);
    return client.request("GET", "/blobs/" + digest + "/metainfo");
  });
  if (!r) return {0, r.error().message};
  if (r->status == 404) return {404, http::describe_failure(*r)};
  if (!r->success()) return {0, "origin answered " + http::describe_failure(*r)};
  // A metainfo that is not even valid bencode must not be cached or passed on.
  auto parsed = bencode::decode(r->body);
  if (!parsed || !parsed->is_dict()) return {0, "origin sent metainfo that is not a bencoded dict"};
  return {200, std::move(r->body)};
}

}  // namespace

awaitable<void> Tracker::metainfo(http::Exchange& ex, std::string_view digest_text) {
  auto digest = Digest::parse(digest_text);
  if (!digest) {
    co_await ex.respond_error(status::bad_request, "DIGEST_INVALID", digest.error().message);
    co_return;
  }
  const std::string key = digest->str();
  auto counter = [this](const char* result) -> metrics::Counter& {
    return metrics_.counter("shoal_tracker_metainfo_requests_total",
                            "GET /metainfo requests by result.", {{"result", result}});
  };
  std::optional<std::string> cached = metainfo_cache_.get(key);
  if (!cached) {
    if (!origins_) {
      co_await ex.respond_error(status::service_unavailable, "UNAVAILABLE",
                                "the tracker has no --origin to fetch metainfo from");
      co_return;
    }
    // Captures by reference, as the origin does: g++ 12 mishandles a lambda
    // temporary with non-trivial captures inside a co_await expression.
    auto fetch = [&] { return fetch_from_origins(*origins_, key, opts_.origin_timeout); };
    Fetched f = co_await http::outbound(fetch);
    if (f.status == 404) {
      counter("not_found").inc();
      co_await ex.respond_error(status::not_found, "METAINFO_UNKNOWN",
                                "the origin has no metainfo for " + key);
      co_return;
    }
    if (f.status != 200) {
      counter("error").inc();
      log::warn("metainfo fetch failed", {{"digest", key}, {"error", f.body}});
      co_await ex.respond_error(status::bad_gateway, "ORIGIN_UNAVAILABLE",
                                "cannot fetch metainfo from the origin: " + f.body);
      co_return;
    }
    counter("miss").inc();
    metainfo_cache_.put(key, f.body);
    cached = std::move(f.body);
  } else {
    counter("hit").inc();
  }
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, "application/x-bittorrent");
  head.set(bhttp::field::etag, "\"" + key + "\"");
  head.set(bhttp::field::cache_control, "public, max-age=31536000, immutable");
  co_await ex.respond(std::move(head), *cached);
}

}  // namespace shoal::tracker
