// A component's routes as one table: which paths it answers, with which methods,
// under which metric label (shoal_http_requests_total{route=...}), by which handler.
// The table answers what every component answers alike: 404 for a path no route
// takes, 405 with Allow for a method its route does not take; /health and /metrics
// are routes like any other (respond_health, respond_metrics).
#pragma once

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.h"
#include "http/failure.h"
#include "http/util.h"

namespace shoal::http {

// The part of `path` that `pattern` leaves open, or nullopt when it does not match:
//   "/health"           this path alone ("")
//   "/health/?"         with or without one trailing slash ("")
//   "/blobs/*"          the prefix and anything after it, even nothing
//   "/blobs/+"          the prefix and something after it
//   "/blobs/*/metainfo" a prefix, anything, a suffix (the middle)
std::optional<std::string_view> match_route(std::string_view pattern, std::string_view path);

// "GET, HEAD": the Allow header for a route's methods, in their order.
std::string allow_header(std::span<const bhttp::verb> methods);

// GET /health: {"status":"ok"}.
awaitable<void> respond_health(Exchange& ex);
// 404 NOT_FOUND naming the path.
awaitable<void> respond_no_route(Exchange& ex);

// `Context...`: per-request state the component's handlers share with the caller of
// serve() (the edge's cache status); none for most components.
template <class... Context>
class Routes {
 public:
  using RouteHandler = std::function<awaitable<void>(Exchange&, std::string_view, Context...)>;
  struct Route {
    std::string_view pattern;          // see match_route
    std::vector<bhttp::verb> methods;  // empty: any, the handler answers the rest
    std::string_view label;            // metric route label
    RouteHandler handler;              // given the open part of the pattern
  };
  // The label of a path no route takes: "other", or that of the first route whose
  // pattern starts with the same segment (a 404 under /blobs/ counted as "blobs").
  enum class Unmatched { other, by_segment };

  Routes(std::initializer_list<Route> routes, Unmatched unmatched)
      : routes_(routes), unmatched_(unmatched) {
    for (const Route& r : routes_) allow_.push_back(allow_header(r.methods));
  }

  // The metric label of a request for `path`, whichever way it is answered.
  std::string_view label(std::string_view path) const {
    const Route* r = find(path).route;
    if (r) return r->label;
    if (unmatched_ == Unmatched::by_segment) {
      std::string_view segment = split_route(path).first;
      for (const Route& candidate : routes_) {
        if (split_route(candidate.pattern).first == segment) return candidate.label;
      }
    }
    return "other";
  }

  // Answers the request: its route's handler, 405 or 404. Returns the metric label.
  awaitable<std::string_view> serve(Exchange& ex, Context... context) const {
    Found found = find(ex.path());
    if (!found.route) {
      co_await respond_no_route(ex);
      co_return label(ex.path());
    }
    const Route& r = *found.route;
    if (!r.methods.empty() && std::find(r.methods.begin(), r.methods.end(), ex.method()) ==
                                  r.methods.end()) {
      co_await respond_method_not_allowed(ex, allow_[found.index]);
      co_return r.label;
    }
    co_await r.handler(ex, found.rest, context...);
    co_return r.label;
  }

 private:
  struct Found {
    const Route* route = nullptr;
    size_t index = 0;
    std::string_view rest;
  };
  Found find(std::string_view path) const {
    for (size_t i = 0; i < routes_.size(); ++i) {
      if (auto rest = match_route(routes_[i].pattern, path)) return {&routes_[i], i, *rest};
    }
    return {};
  }

  std::vector<Route> routes_;
  std::vector<std::string> allow_;  // per route
  Unmatched unmatched_;
};

}  // namespace shoal::http
