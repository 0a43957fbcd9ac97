#include "edge/edge.h"

#include <thread>

#include "http/failure.h"
#include "http/util.h"
#include "core/log.h"
#include "edge/edge_counters.h"

namespace shoal::edge {

using bhttp::field;
using bhttp::status;
using Clock = std::chrono::steady_clock;

Edge::Edge(EdgeOptions opts)
    : opts_(std::move(opts)),
      recorder_(metrics_),
      counters_(std::make_unique<Counters>(metrics_)),
      ram_(opts_.mem_cache_bytes, opts_.mem_object_max),
      disk_(opts_.data_dir / "cache", opts_.disk_cache_bytes),
      limiter_(opts_.requests_per_second, opts_.bytes_per_second),
      origins_(opts_.origins, "origin"),
      hls_catalog_(opts_.peer, origins_) {
  register_gauges();
}

Edge::~Edge() { stop(); }

void Edge::stop() {
  stop_ = true;
  std::unique_lock lock(mu_);
  fills_done_.wait(lock, [this] { return running_fills_ == 0; });
}

void Edge::register_gauges() {
  const char* bytes_help = "Bytes held by each cache tier.";
  const char* objects_help = "Objects held by each cache tier.";
  const char* budget_help = "Byte budget of each cache tier.";
  metrics_.gauge_fn("shoal_edge_cache_bytes", bytes_help,
                    [this] { return double(ram_.used_bytes()); }, {{"tier", "ram"}});
  metrics_.gauge_fn("shoal_edge_cache_bytes", bytes_help,
                    [this] { return double(disk_.used_bytes()); }, {{"tier", "disk"}});
  metrics_.gauge_fn("shoal_edge_cache_objects", objects_help,
                    [this] { return double(ram_.count()); }, {{"tier", "ram"}});
  metrics_.gauge_fn("shoal_edge_cache_objects", objects_help,
                    [this] { return double(disk_.count()); }, {{"tier", "disk"}});
  metrics_.gauge_fn("shoal_edge_cache_budget_bytes", budget_help,
                    [this] { return double(ram_.budget()); }, {{"tier", "ram"}});
  metrics_.gauge_fn("shoal_edge_cache_budget_bytes", budget_help,
                    [this] { return double(disk_.budget()); }, {{"tier", "disk"}});
  metrics_.gauge_fn("shoal_edge_fills_in_flight", "Cache fills under way.", [this] {
    std::lock_guard lock(mu_);
    return double(running_fills_);
  });
}

void Edge::housekeeping() { limiter_.prune(Clock::now()); }

namespace {

std::string_view cache_label(CacheStatus c) {
  switch (c) {
    case CacheStatus::hit: return "HIT";
    case CacheStatus::miss: return "MISS";
    case CacheStatus::collapsed: return "COLLAPSED";
    case CacheStatus::none: break;
  }
  return {};
}

}  // namespace

Edge::Routes Edge::make_routes() {
  auto blob = [this](http::Exchange& ex, std::string_view digest,
                     CacheStatus& cache) -> awaitable<void> {
    bool admitted = co_await admit(ex);
    if (!admitted) co_return;
    co_await get_blob(ex, digest, cache);
  };
  return {{
              {"/health", {}, "health",
               [](http::Exchange& ex, std::string_view, CacheStatus&) {
                 return http::respond_health(ex);
               }},
              {"/metrics", {}, "metrics",
               [this](http::Exchange& ex, std::string_view, CacheStatus&) {
                 return http::respond_metrics(ex, metrics_);
               }},
              {"/blobs/*", {bhttp::verb::get, bhttp::verb::head}, "blobs", blob},
              {"/hls/*", {}, "hls",
               [this](http::Exchange& ex, std::string_view rest, CacheStatus& cache) {
                 return hls(ex, rest, cache);
               }},
          },
          Routes::Unmatched::other};
}

awaitable<void> Edge::handle(http::Exchange& ex) {
  auto start = Clock::now();
  CacheStatus cache = CacheStatus::none;
  std::string_view route_name = co_await routes_.serve(ex, cache);
  if (route_name == "blobs" || route_name == "hls") {
    if (opts_.bytes_per_second > 0) {
      limiter_.account_bytes(ex.remote_ip(), ex.body_bytes_sent(), Clock::now());
    }
    counters_->served_bytes(ex.protocol()).inc(ex.body_bytes_sent());
  }
  recorder_.record(ex, route_name, start, log::Level::info, cache_label(cache));
}

// The client's token buckets: a client over its request or byte rate waits.
awaitable<bool> Edge::admit(http::Exchange& ex) {
  if (opts_.requests_per_second <= 0 && opts_.bytes_per_second <= 0) co_return true;
  auto decision = limiter_.admit(ex.remote_ip(), Clock::now());
  if (decision.allowed) co_return true;
  counters_->rate_limited.inc();
  http::Head head;
  head.result(status::too_many_requests);
  head.set(field::retry_after, std::to_string(decision.retry_after.count()));
  head.set(field::content_type, "application/json");
  co_await ex.respond(
      std::move(head),
      http::error_json("RATE_LIMITED", "over the per-client rate limit; retry after " +
                                           std::to_string(decision.retry_after.count()) + " s"));
  co_return false;
}

}  // namespace shoal::edge
