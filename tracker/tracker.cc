#include "tracker/tracker.h"

#include <random>

#include "http/routes.h"
#include "http/util.h"
#include "core/log.h"

namespace shoal::tracker {
namespace {

using bhttp::status;
using bhttp::verb;

}  // namespace

Tracker::Tracker(TrackerOptions opts, std::unique_ptr<PeerStore> store)
    : opts_(std::move(opts)),
      store_(std::move(store)),
      metainfo_cache_(opts_.metainfo_cache_bytes),
      rng_(std::random_device{}()) {
  if (opts_.origins) {
    origins_ = std::make_unique<http::Upstreams>(*opts_.origins, "origin");
    origins_->on_failover([](const Url& from, const Error& why, const Url& to) {
      log::warn("origin failed, trying the next",
                {{"origin", from.str()}, {"error", why.message}, {"next", to.str()}});
    });
  }
  handout_size_ =
      &metrics_.histogram("shoal_tracker_handout_size", "Peers handed out per announce.",
                          {0, 1, 2, 5, 10, 20, 50, 100, 200});
  failures_ = &metrics_.counter("shoal_tracker_announce_failures_total",
                                "Announces answered with a failure reason.");
  // Create every event's series up front so dashboards see zeros, not gaps.
  for (auto e : {AnnounceEvent::none, AnnounceEvent::started, AnnounceEvent::completed,
                 AnnounceEvent::stopped}) {
    metrics_.counter("shoal_tracker_announces_total", "Valid announces by event.",
                     {{"event", std::string(event_name(e))}});
  }
  metrics_.gauge_fn("shoal_tracker_peers", "Peers tracked in all swarms.",
                    [this] { return static_cast<double>(store_->peer_count()); });
  metrics_.gauge_fn("shoal_tracker_swarms", "Swarms (info-hashes) tracked.",
                    [this] { return static_cast<double>(store_->swarm_count()); });
  metrics_.gauge_fn("shoal_tracker_metainfo_cache_bytes", "Bytes of cached metainfo.",
                    [this] { return static_cast<double>(metainfo_cache_.bytes()); });
}

http::Routes<> Tracker::make_routes() {
  using Unmatched = http::Routes<>::Unmatched;
  const std::vector<verb> get{verb::get, verb::head};
  return {{
              {"/health/?", get, "health",
               [](http::Exchange& ex, std::string_view) { return http::respond_health(ex); }},
              {"/metrics/?", get, "metrics",
               [this](http::Exchange& ex, std::string_view) {
                 return http::respond_metrics(ex, metrics_);
               }},
              {"/announce/?", get, "announce",
               [this](http::Exchange& ex, std::string_view) { return announce(ex); }},
              {"/scrape/?", get, "scrape",
               [this](http::Exchange& ex, std::string_view) { return scrape(ex); }},
              {"/metainfo/+", get, "metainfo",
               [this](http::Exchange& ex, std::string_view d) { return metainfo(ex, d); }},
              {"/swarms/+", get, "swarms",
               [this](http::Exchange& ex, std::string_view d) { return swarms(ex, d); }},
              {"/ui/swarms/+", get, "ui_swarms",
               [this](http::Exchange& ex, std::string_view d) { return swarm_page(ex, d); }},
          },
          Unmatched::by_segment};
}

awaitable<void> Tracker::handle(http::Exchange& ex) {
  auto start = std::chrono::steady_clock::now();
  std::string_view label = routes_.label(ex.path());
  if (ex.method() == verb::get || ex.method() == verb::head) {
    co_await routes_.serve(ex);
  } else {
    // Every path, known or not: a tracker has nothing to take.
    co_await respond_get_only(ex);
  }
  // Announces are the bulk of a tracker's traffic: debug level keeps info logs readable.
  recorder_.record(ex, label, start, label == "announce" ? log::Level::debug : log::Level::info);
}

awaitable<void> Tracker::respond_get_only(http::Exchange& ex) {
  http::Head head;
  head.result(status::method_not_allowed);
  head.set(bhttp::field::allow, "GET, HEAD");
  head.set(bhttp::field::content_type, "application/json");
  co_await ex.respond(std::move(head),
                      http::error_json("METHOD_NOT_ALLOWED", "the tracker answers GET only"));
}

awaitable<void> Tracker::respond_bencode(http::Exchange& ex, std::string body) {
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, "text/plain");
  // Announce answers change with every request: no cache may keep them.
  head.set(bhttp::field::cache_control, "no-store");
  co_await ex.respond(std::move(head), body);
}

void Tracker::prune() {
  if (size_t n = store_->prune(std::chrono::steady_clock::now()); n > 0) {
    log::debug("expired peers", {{"count", n}});
  }
}

}  // namespace shoal::tracker
