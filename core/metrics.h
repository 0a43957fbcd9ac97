// A Prometheus metrics registry (text exposition format 0.0.4). Counters and gauges
// are lock-free atomics; the registry lock is only taken to create a series or render.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace shoal::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // sorted ascending, +Inf implied
  void observe(double v);
  // Cumulative counts per bound (last entry is +Inf), sum and count, for rendering.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_bits_{0};  // double stored as bits, updated by CAS
};

// Default latency buckets in seconds: 1 ms .. 60 s.
std::vector<double> latency_buckets();

class Registry {
 public:
  Registry();
  ~Registry();  // out of line: Family is only complete in metrics.cc

  // The same name and labels always return the same series; references stay valid
  // for the registry's life. A name registered with a different type throws
  // std::logic_error (a programming error, caught in tests).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds, const Labels& labels = {});
  // A gauge computed when scraped (store size, open sessions).
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn,
                const Labels& labels = {});
  // A counter kept elsewhere (by a library) and read when scraped; must not decrease.
  void counter_fn(const std::string& name, const std::string& help, std::function<double()> fn,
                  const Labels& labels = {});

  // Families sorted by name, series by labels; HELP and TYPE once per family;
  // label values escaped (\\, \", \n).
  std::string render() const;

 private:
  struct Family;
  Family& family(const std::string& name, const std::string& help, int type);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

}  // namespace shoal::metrics
