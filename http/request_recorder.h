// Per-request accounting every Shoal server shares: the request counter by route,
// method and status, body byte counters, and one access-log line.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/server.h"
#include "core/log.h"
#include "core/metrics.h"

namespace shoal::http {

class RequestRecorder {
 public:
  explicit RequestRecorder(metrics::Registry& registry);
  // `cache` (HIT, MISS, ...) goes into the log line when given.
  void record(const Exchange& ex, std::string_view route,
              std::chrono::steady_clock::time_point start, log::Level level = log::Level::info,
              std::string_view cache = {});

 private:
  metrics::Counter& requests(const Exchange& ex, std::string_view route);

  metrics::Registry& registry_;
  // The request counter of each (route, method, status, protocol) seen, so a request
  // costs one small-string lookup instead of building the label set.
  std::mutex series_mu_;
  std::unordered_map<std::string, metrics::Counter*> series_;
  metrics::Counter& bytes_in_;
  metrics::Counter& bytes_out_;
};

// GET /metrics: the registry in Prometheus text format.
awaitable<void> respond_metrics(Exchange& ex, const metrics::Registry& registry);

}  // namespace shoal::http
