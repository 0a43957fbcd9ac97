// The edge's own metric series, created once so the request path only touches atomics.
#pragma once

#include <string_view>

#include "core/metrics.h"

namespace shoal::edge {

struct Edge::Counters {
  explicit Counters(metrics::Registry& r)
      : hit_ram(r.counter("shoal_edge_hits_total", kHits, {{"tier", "ram"}})),
        hit_disk(r.counter("shoal_edge_hits_total", kHits, {{"tier", "disk"}})),
        misses(r.counter("shoal_edge_misses_total", "Requests that started a cache fill.")),
        collapsed(r.counter("shoal_edge_collapsed_total",
                            "Requests served from a fill another request started.")),
        not_modified(r.counter("shoal_edge_not_modified_total", "Requests answered 304.")),
        rate_limited(r.counter("shoal_edge_rate_limited_total", "Requests refused with 429.")),
        fills_busy(r.counter("shoal_edge_fills_refused_total",
                             "Misses refused with 503 because max_fills were running.")),
        fill_peer(
            r.counter("shoal_edge_fills_total", kFills, {{"source", "peer"}, {"outcome", "ok"}})),
        fill_origin(
            r.counter("shoal_edge_fills_total", kFills, {{"source", "origin"}, {"outcome", "ok"}})),
        fill_failed(r.counter("shoal_edge_fills_total", kFills,
                              {{"source", "none"}, {"outcome", "failed"}})),
        fill_seconds(r.histogram("shoal_edge_fill_seconds",
                                 "Time from a miss to the verified end of its fill.",
                                 metrics::latency_buckets())),
        served_h1(r.counter("shoal_edge_served_bytes_total", kServed, {{"protocol", "http/1.1"}})),
        served_h2(r.counter("shoal_edge_served_bytes_total", kServed, {{"protocol", "h2"}})),
        served_h3(r.counter("shoal_edge_served_bytes_total", kServed, {{"protocol", "h3"}})) {}

  metrics::Counter& served_bytes(std::string_view protocol) {
    if (protocol == "h2") return served_h2;
    if (protocol == "h3") return served_h3;
    return served_h1;
  }

  static constexpr const char* kHits = "Requests served from a cache tier.";
  static constexpr const char* kFills = "Cache fills by the source that completed them.";
  static constexpr const char* kServed = "Blob body bytes sent to clients.";

  metrics::Counter& hit_ram;
  metrics::Counter& hit_disk;
  metrics::Counter& misses;
  metrics::Counter& collapsed;
  metrics::Counter& not_modified;
  metrics::Counter& rate_limited;
  metrics::Counter& fills_busy;
  metrics::Counter& fill_peer;
  metrics::Counter& fill_origin;
  metrics::Counter& fill_failed;
  metrics::Histogram& fill_seconds;
  metrics::Counter& served_h1;
  metrics::Counter& served_h2;
  metrics::Counter& served_h3;
};

}  // namespace shoal::edge
