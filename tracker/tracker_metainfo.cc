// GET /metainfo/<digest>: the blob's metainfo, fetched once from the origins (the
// first that answers, http/upstreams.h) and then served from a bounded in-memory
// cache. The blocking HTTP client runs on the outbound pool (http::outbound), never
// on the event loop.
#include "core/digest.h"
#include "core/torrent/metainfo.h"
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
  std::optional<SwarmKey> key;
};

// The swarm a metainfo describes; none when it is not a Shoal blob's metainfo bound to
// `digest` (it is still served: the tracker passes on what the origin has).
std::optional<SwarmKey> swarm_key(const std::string& body, const Digest& digest) {
  auto parsed = parse_and_bind(body, digest);
  if (!parsed) return std::nullopt;
  const auto& h = parsed->announced_hash;
  return SwarmKey{std::string(reinterpret_cast<const char*>(h.data()), h.size()),
                  parsed->piece_count};
}

Fetched fetch_from_origins(http::Upstreams& origins, const Digest& digest,
                           std::chrono::milliseconds timeout) {
  http::ClientOptions copts;
  copts.connect_timeout = std::min(timeout, std::chrono::milliseconds(10'000));
  copts.io_timeout = timeout;
  copts.user_agent = "shoal-tracker";
  auto r = origins.first_answer([&](const Url& origin) {
    http::Client client(origin, copts);
    return client.request("GET", "/blobs/" + digest.str() + "/metainfo");
  });
  if (!r) return {0, r.error().message, std::nullopt};
  if (r->status == 404) return {404, http::describe_failure(*r), std::nullopt};
  if (!r->success()) return {0, "origin answered " + http::describe_failure(*r), std::nullopt};
  // A metainfo that is not even valid bencode must not be cached or passed on.
  auto parsed = bencode::decode(r->body);
  if (!parsed || !parsed->is_dict()) {
    return {0, "origin sent metainfo that is not a bencoded dict", std::nullopt};
  }
  auto key = swarm_key(r->body, digest);
  return {200, std::move(r->body), std::move(key)};
}

}  // namespace

awaitable<Tracker::MetainfoLookup> Tracker::lookup_metainfo(const Digest& digest) {
  const std::string key = digest.str();
  auto counter = [this](const char* result) -> metrics::Counter& {
    return metrics_.counter("shoal_tracker_metainfo_requests_total",
                            "Metainfo lookups (GET /metainfo, GET /swarms) by result.",
                            {{"result", result}});
  };
  MetainfoLookup out;
  if (std::optional<std::string> cached = metainfo_cache_.get(key)) {
    counter("hit").inc();
    out.metainfo = std::move(*cached);
    out.key = metainfo_cache_.key_of(key);
    co_return out;
  }
  if (!origins_) {
    out.status = status::service_unavailable;
    out.code = "UNAVAILABLE";
    out.message = "the tracker has no --origin to fetch metainfo from";
    co_return out;
  }
  // Captures by reference, as the origin does: g++ 12 mishandles a lambda
  // temporary with non-trivial captures inside a co_await expression.
  auto fetch = [&] { return fetch_from_origins(*origins_, digest, opts_.origin_timeout); };
  Fetched f = co_await http::outbound(fetch);
  if (f.status == 404) {
    counter("not_found").inc();
    out.status = status::not_found;
    out.code = "METAINFO_UNKNOWN";
    out.message = "the origin has no metainfo for " + key;
    co_return out;
  }
  if (f.status != 200) {
    counter("error").inc();
    log::warn("metainfo fetch failed", {{"digest", key}, {"error", f.body}});
    out.status = status::bad_gateway;
    out.code = "ORIGIN_UNAVAILABLE";
    out.message = "cannot fetch metainfo from the origin: " + f.body;
    co_return out;
  }
  counter("miss").inc();
  metainfo_cache_.put(key, f.body, f.key);
  out.metainfo = std::move(f.body);
  out.key = std::move(f.key);
  co_return out;
}

awaitable<std::optional<Tracker::MetainfoLookup>> Tracker::lookup_or_respond(
    http::Exchange& ex, std::string_view digest_text) {
  auto digest = Digest::parse(digest_text);
  if (!digest) {
    co_await ex.respond_error(status::bad_request, "DIGEST_INVALID", digest.error().message);
    co_return std::nullopt;
  }
  MetainfoLookup found = co_await lookup_metainfo(*digest);
  if (found.status != status::ok) {
    co_await ex.respond_error(found.status, found.code, found.message);
    co_return std::nullopt;
  }
  co_return found;
}

awaitable<void> Tracker::metainfo(http::Exchange& ex, std::string_view digest_text) {
  std::optional<MetainfoLookup> looked_up = co_await lookup_or_respond(ex, digest_text);
  if (!looked_up) co_return;
  MetainfoLookup& found = *looked_up;
  const Result<Digest> digest = Digest::parse(digest_text);  // valid: the lookup parsed it
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, "application/x-bittorrent");
  head.set(bhttp::field::etag, "\"" + digest->str() + "\"");
  head.set(bhttp::field::cache_control, "public, max-age=31536000, immutable");
  co_await ex.respond(std::move(head), found.metainfo);
}

}  // namespace shoal::tracker
