#include "http/request_recorder.h"

#include <string>

namespace shoal::http {

RequestRecorder::RequestRecorder(metrics::Registry& registry)
    : registry_(registry),
      bytes_in_(
          registry.counter("shoal_http_received_bytes_total", "Request body bytes received.")),
      bytes_out_(registry.counter("shoal_http_sent_bytes_total", "Response body bytes sent.")) {}

metrics::Counter& RequestRecorder::requests(const Exchange& ex, std::string_view route) {
  thread_local std::string key;  // reused: no allocation per request
  key.assign(route);
  key += ' ';
  key += std::to_string(static_cast<int>(ex.method()));
  key += ' ';
  key += std::to_string(static_cast<unsigned>(ex.status()));
  key += ' ';
  key += ex.protocol();
  std::lock_guard lock(series_mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return *it->second;
  auto& counter = registry_.counter("shoal_http_requests_total",
                                    "HTTP requests by route, method, status and protocol.",
                                    {{"route", std::string(route)},
                                     {"method", std::string(bhttp::to_string(ex.method()))},
                                     {"status", std::to_string(static_cast<unsigned>(ex.status()))},
                                     {"protocol", std::string(ex.protocol())}});
  series_.emplace(key, &counter);
  return counter;
}

void RequestRecorder::record(const Exchange& ex, std::string_view route,
                             std::chrono::steady_clock::time_point start, log::Level level,
                             std::string_view cache) {
  auto code = static_cast<unsigned>(ex.status());
  requests(ex, route).inc();
  bytes_in_.inc(ex.body_bytes_read());
  bytes_out_.inc(ex.body_bytes_sent());
  auto verb = bhttp::to_string(ex.method());
  std::string_view method(verb.data(), verb.size());
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (cache.empty()) {
    log::write(level, "request",
               {{"method", method},
                {"path", ex.path()},
                {"status", code},
                {"proto", ex.protocol()},
                {"bytes_in", ex.body_bytes_read()},
                {"bytes_out", ex.body_bytes_sent()},
                {"ms", ms},
                {"remote", ex.remote_address()}});
  } else {
    log::write(level, "request",
               {{"method", method},
                {"path", ex.path()},
                {"status", code},
                {"proto", ex.protocol()},
                {"cache", cache},
                {"bytes_out", ex.body_bytes_sent()},
                {"ms", ms},
                {"remote", ex.remote_address()}});
  }
}

awaitable<void> respond_metrics(Exchange& ex, const metrics::Registry& registry) {
  Head head;
  head.result(bhttp::status::ok);
  head.set(bhttp::field::content_type, "text/plain; version=0.0.4");
  std::string body = registry.render();
  co_await ex.respond(std::move(head), body);
}

}  // namespace shoal::http
