#include "core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace shoal::metrics {
namespace {

TEST(Metrics, EmptyRegistryRendersNothing) {
  Registry r;
  EXPECT_EQ(r.render(), "");
}

TEST(Metrics, RendersSmallRegistryExactly) {
  Registry r;
  r.gauge("shoal_open_sessions", "Upload sessions in progress.").set(-3);
  r.counter("shoal_http_requests_total", "HTTP requests served.", {{"code", "200"}}).inc(5);
  r.counter("shoal_http_requests_total", "HTTP requests served.", {{"code", "404"}}).inc();
  r.counter("shoal_blobs_pushed_total", "Blobs pushed.").inc(2);
  r.gauge_fn("shoal_store_bytes", "Bytes in the blob store.", [] { return 1536.0; });
  EXPECT_EQ(r.render(),
            "# HELP shoal_blobs_pushed_total Blobs pushed.\n"
            "# TYPE shoal_blobs_pushed_total counter\n"
            "shoal_blobs_pushed_total 2\n"
            "# HELP shoal_http_requests_total HTTP requests served.\n"
            "# TYPE shoal_http_requests_total counter\n"
            "shoal_http_requests_total{code=\"200\"} 5\n"
            "shoal_http_requests_total{code=\"404\"} 1\n"
            "# HELP shoal_open_sessions Upload sessions in progress.\n"
            "# TYPE shoal_open_sessions gauge\n"
            "shoal_open_sessions -3\n"
            "# HELP shoal_store_bytes Bytes in the blob store.\n"
            "# TYPE shoal_store_bytes gauge\n"
            "shoal_store_bytes 1536\n");
}

TEST(Metrics, SameNameAndLabelsIsSameSeries) {
  Registry r;
  Counter& a = r.counter("c", "h", {{"x", "1"}, {"y", "2"}});
  Counter& b = r.counter("c", "h", {{"y", "2"}, {"x", "1"}});  // order does not matter
  Counter& other = r.counter("c", "h", {{"x", "2"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  a.inc();
  b.inc();
  EXPECT_EQ(a.value(), 2u);
  EXPECT_EQ(r.render(), "# HELP c h\n# TYPE c counter\nc{x=\"1\",y=\"2\"} 2\nc{x=\"2\"} 0\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("c", "line one\nback\\slash \"quoted\"", {{"path", "a\\b\"c\nd"}}).inc();
  EXPECT_EQ(r.render(),
            "# HELP c line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE c counter\n"
            "c{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(Metrics, CounterRendersFullUint64) {
  Registry r;
  r.counter("big", "h").inc(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(r.render(), "# HELP big h\n# TYPE big counter\nbig 18446744073709551615\n");
}

TEST(Metrics, GaugeAddAndSet) {
  Registry r;
  Gauge& g = r.gauge("g", "h");
  g.add(5);
  g.add(-7);
  EXPECT_EQ(g.value(), -2);
  g.set(10);
  EXPECT_EQ(r.render(), "# HELP g h\n# TYPE g gauge\ng 10\n");
}

TEST(Metrics, GaugeFnIsEvaluatedAtRender) {
  Registry r;
  double v = 1;
  r.gauge_fn("live", "h", [&v] { return v; }, {{"k", "v"}});
  EXPECT_EQ(r.render(), "# HELP live h\n# TYPE live gauge\nlive{k=\"v\"} 1\n");
  v = 0.25;
  EXPECT_EQ(r.render(), "# HELP live h\n# TYPE live gauge\nlive{k=\"v\"} 0.25\n");
}

TEST(Metrics, GaugeFnRegisteredAgainReplacesFunction) {
  Registry r;
  r.gauge_fn("live", "h", [] { return 1.0; });
  r.gauge_fn("live", "h", [] { return 2.0; });
  EXPECT_EQ(r.render(), "# HELP live h\n# TYPE live gauge\nlive 2\n");
}

TEST(Metrics, GaugeFnMayUseRegistryWithoutDeadlock) {
  Registry r;
  r.gauge_fn("a_fn", "h", [&r] { return static_cast<double>(r.counter("b", "h").value()); });
  r.counter("b", "h").inc(4);
  EXPECT_EQ(r.render(),
            "# HELP a_fn h\n# TYPE a_fn gauge\na_fn 4\n# HELP b h\n# TYPE b counter\nb 4\n");
}

TEST(Metrics, DoubleFormatting) {
  Registry r;
  r.gauge_fn("a", "h", [] { return 0.1; });
  r.gauge_fn("b", "h", [] { return 1e21; });
  r.gauge_fn("c", "h", [] { return std::numeric_limits<double>::quiet_NaN(); });
  r.gauge_fn("d", "h", [] { return std::numeric_limits<double>::infinity(); });
  r.gauge_fn("e", "h", [] { return -std::numeric_limits<double>::infinity(); });
  r.gauge_fn("f", "h", [] { return -0.5; });
  EXPECT_EQ(r.render(),
            "# HELP a h\n# TYPE a gauge\na 0.1\n"
            "# HELP b h\n# TYPE b gauge\nb 1e+21\n"
            "# HELP c h\n# TYPE c gauge\nc NaN\n"
            "# HELP d h\n# TYPE d gauge\nd +Inf\n"
            "# HELP e h\n# TYPE e gauge\ne -Inf\n"
            "# HELP f h\n# TYPE f gauge\nf -0.5\n");
}

TEST(Histogram, BucketsAreCumulativeAndInclusive) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 5.0, 7.0, -3.0}) h.observe(v);
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 12.0);
}

TEST(Histogram, EmptyHasZeroes) {
  Histogram h({1});
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0.0);
}

TEST(Histogram, NoBoundsMeansOnlyInf) {
  Histogram h({});
  h.observe(3);
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{1}));
}

TEST(Histogram, NanAndInfinityLandInInfBucket) {
  Histogram h({1});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  h.observe(std::numeric_limits<double>::infinity());
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{0, 2}));
}

TEST(Histogram, TrailingInfBoundIsImplied) {
  Histogram h({1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.bounds(), (std::vector<double>{1}));
}

TEST(Histogram, BadBoundsThrow) {
  EXPECT_THROW(Histogram({2, 1}), std::logic_error);
  EXPECT_THROW(Histogram({1, 1}), std::logic_error);
  EXPECT_THROW(Histogram({std::numeric_limits<double>::quiet_NaN()}), std::logic_error);
  EXPECT_THROW(Histogram({-std::numeric_limits<double>::infinity(), 1}), std::logic_error);
}

TEST(Histogram, RendersBucketsSumAndCount) {
  Registry r;
  Histogram& h =
      r.histogram("req_seconds", "Request latency.", {0.005, 0.5, 1}, {{"route", "blob"}});
  h.observe(0.001);
  h.observe(0.25);
  h.observe(0.5);
  h.observe(2);
  EXPECT_EQ(r.render(),
            "# HELP req_seconds Request latency.\n"
            "# TYPE req_seconds histogram\n"
            "req_seconds_bucket{route=\"blob\",le=\"0.005\"} 1\n"
            "req_seconds_bucket{route=\"blob\",le=\"0.5\"} 3\n"
            "req_seconds_bucket{route=\"blob\",le=\"1\"} 3\n"
            "req_seconds_bucket{route=\"blob\",le=\"+Inf\"} 4\n"
            "req_seconds_sum{route=\"blob\"} 2.751\n"
            "req_seconds_count{route=\"blob\"} 4\n");
}

TEST(Histogram, RendersWithoutLabels) {
  Registry r;
  r.histogram("h", "x", {1}).observe(0.5);
  EXPECT_EQ(r.render(),
            "# HELP h x\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n");
}

TEST(Histogram, LatencyBuckets) {
  EXPECT_EQ(latency_buckets(), (std::vector<double>{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25, 0.5, 1, 2.5, 5, 10, 30, 60}));
  Registry r;
  r.histogram("lat", "h", latency_buckets());
  std::string text = r.render();
  EXPECT_NE(text.find("lat_bucket{le=\"0.0025\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{le=\"60\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{le=\"+Inf\"} 0\nlat_sum 0\nlat_count 0\n"), std::string::npos);
}

TEST(Metrics, TypeClashThrows) {
  Registry r;
  r.counter("c", "h");
  EXPECT_THROW(r.gauge("c", "h"), std::logic_error);
  EXPECT_THROW(r.histogram("c", "h", {1}), std::logic_error);
  EXPECT_THROW(r.gauge_fn("c", "h", [] { return 0.0; }), std::logic_error);
  r.gauge("g", "h");
  EXPECT_THROW(r.counter("g", "h", {{"a", "b"}}), std::logic_error);
  EXPECT_THROW(r.gauge_fn("g", "h", [] { return 0.0; }), std::logic_error);
  r.gauge_fn("f", "h", [] { return 0.0; });
  EXPECT_THROW(r.gauge("f", "h"), std::logic_error);
  // The registry is still usable and unchanged after the throws.
  EXPECT_EQ(r.render(),
            "# HELP c h\n# TYPE c counter\nc 0\n"
            "# HELP f h\n# TYPE f gauge\nf 0\n"
            "# HELP g h\n# TYPE g gauge\ng 0\n");
}

TEST(Metrics, HistogramWithDifferentBucketsThrows) {
  Registry r;
  r.histogram("h", "x", {1, 2}, {{"a", "1"}});
  EXPECT_NO_THROW(r.histogram("h", "x", {1, 2}, {{"a", "2"}}));
  EXPECT_THROW(r.histogram("h", "x", {1, 3}, {{"a", "3"}}), std::logic_error);
}

TEST(Metrics, InvalidNamesThrow) {
  Registry r;
  EXPECT_THROW(r.counter("", "h"), std::logic_error);
  EXPECT_THROW(r.counter("9lives", "h"), std::logic_error);
  EXPECT_THROW(r.counter("has-dash", "h"), std::logic_error);
  EXPECT_THROW(r.counter("c", "h", {{"bad-label", "v"}}), std::logic_error);
  EXPECT_THROW(r.counter("c", "h", {{"__reserved", "v"}}), std::logic_error);
  EXPECT_THROW(r.counter("c", "h", {{"a", "1"}, {"a", "2"}}), std::logic_error);
  EXPECT_THROW(r.histogram("h", "h", {1}, {{"le", "1"}}), std::logic_error);
  EXPECT_NO_THROW(r.counter("ns:sub_total", "h", {{"_ok", "v"}}));
  // Rejected registrations leave no empty family behind.
  EXPECT_EQ(r.render(),
            "# HELP ns:sub_total h\n# TYPE ns:sub_total counter\nns:sub_total{_ok=\"v\"} 0\n");
}

TEST(Metrics, ConcurrentIncrementsSum) {
  Registry r;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Looked up by name each time: registration itself must be thread safe.
        if (i % 1000 == 0) r.counter("shared", "h", {{"t", std::to_string(t)}}).inc();
        r.counter("total", "h").inc();
        r.gauge("balance", "h").add(t % 2 == 0 ? 1 : -1);
        r.histogram("obs", "h", {0.5, 1.5}).observe(1.0);
        if (i % 5000 == 0) (void)r.render();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(r.counter("total", "h").value(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(r.gauge("balance", "h").value(), 0);
  Histogram& h = r.histogram("obs", "h", {0.5, 1.5});
  EXPECT_EQ(h.count(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(h.sum(), static_cast<double>(kThreads * kPerThread));
  EXPECT_EQ(h.cumulative_counts(),
            (std::vector<uint64_t>{0, kThreads * kPerThread, kThreads * kPerThread}));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(r.counter("shared", "h", {{"t", std::to_string(t)}}).value(), 50u);
  }
}

}  // namespace
}  // namespace shoal::metrics
