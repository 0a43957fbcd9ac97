#include "core/metrics.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace shoal::metrics {
namespace {

// gauge_fn is its own kind: a family mixes neither stored and computed gauges
// nor any two other kinds.
enum Kind { kCounter, kGauge, kHistogram, kGaugeFn, kCounterFn };

const char* kind_name(int kind) {
  switch (kind) {
    case kCounter: return "counter";
    case kHistogram: return "histogram";
    case kGaugeFn: return "gauge_fn";
    case kCounterFn: return "counter_fn";
    default: return "gauge";
  }
}

const char* exposition_type(int kind) {
  if (kind == kGaugeFn) return "gauge";
  if (kind == kCounterFn) return "counter";
  return kind_name(kind);
}

bool is_name_char(char c, bool first, bool colon_ok) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

bool valid_name(const std::string& name, bool colon_ok) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], i == 0, colon_ok)) return false;
  }
  return true;
}

// Labels are sorted by name so that the same set given in any order is one series.
Labels normalized(const std::string& metric, Labels labels, int kind) {
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& l = labels[i].first;
    bool reserved = l.starts_with("__") || (kind == kHistogram && l == "le");
    if (!valid_name(l, false) || reserved) {
      throw std::logic_error("metric " + metric + ": invalid label name \"" + l + "\"");
    }
    if (i > 0 && labels[i - 1].first == l) {
      throw std::logic_error("metric " + metric + ": duplicate label \"" + l + "\"");
    }
  }
  return labels;
}

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Whole numbers (byte counts) as integers: 50000000, not 5e+07.
  if (std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) {
    auto res = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, res.ptr);
  }
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that round-trips
  return std::string(buf, res.ptr);
}

void append_escaped(std::string& out, const std::string& text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_labels(std::string& out, const Labels& labels, const std::string* le) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  const char* sep = "";
  for (const auto& [k, v] : labels) {
    out += sep;
    out += k;
    out += "=\"";
    append_escaped(out, v, true);
    out += '"';
    sep = ",";
  }
  if (le != nullptr) {
    out += sep;
    out += "le=\"" + *le + "\"";
  }
  out += '}';
}

void append_sample(std::string& out, const std::string& name, const Labels& labels,
                   const std::string& value, const std::string* le = nullptr) {
  out += name;
  append_labels(out, labels, le);
  out += ' ';
  out += value;
  out += '\n';
}

void append_histogram(std::string& out, const std::string& name, const Labels& labels,
                      const Histogram& h) {
  std::vector<uint64_t> cumulative = h.cumulative_counts();
  const std::vector<double>& bounds = h.bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    std::string le = i < bounds.size() ? format_double(bounds[i]) : "+Inf";
    append_sample(out, name + "_bucket", labels, std::to_string(cumulative[i]), &le);
  }
  append_sample(out, name + "_sum", labels, format_double(h.sum()));
  // The +Inf bucket, not count(): read at the same moment, so the two always agree.
  append_sample(out, name + "_count", labels, std::to_string(cumulative.back()));
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!bounds_.empty() && bounds_.back() == INFINITY) bounds_.pop_back();  // implied anyway
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw std::logic_error("histogram bounds must be finite and strictly ascending");
    }
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) {
  // Buckets are "less than or equal"; NaN fits no finite bound, so only +Inf.
  size_t i = std::isnan(v)
                 ? bounds_.size()
                 : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                       bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  uint64_t old_bits = sum_bits_.load(std::memory_order_relaxed);
  while (!sum_bits_.compare_exchange_weak(
      old_bits, std::bit_cast<uint64_t>(std::bit_cast<double>(old_bits) + v),
      std::memory_order_relaxed)) {
  }
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum() const {
  return std::bit_cast<double>(sum_bits_.load(std::memory_order_relaxed));
}

uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

struct Series {
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> fn;
};

struct Registry::Family {
  std::string help;
  int kind;
  std::map<Labels, Series> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(const std::string& name, const std::string& help, int type) {
  if (!valid_name(name, true)) throw std::logic_error("invalid metric name \"" + name + "\"");
  auto& slot = families_[name];
  if (!slot) slot.reset(new Family{help, type, {}});
  if (slot->kind != type) {
    throw std::logic_error("metric " + name + " is a " + kind_name(slot->kind) +
                           ", cannot register it as a " + kind_name(type));
  }
  return *slot;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  Labels key = normalized(name, labels, kCounter);
  std::lock_guard lock(mu_);
  Series& s = family(name, help, kCounter).series[key];
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  Labels key = normalized(name, labels, kGauge);
  std::lock_guard lock(mu_);
  Series& s = family(name, help, kGauge).series[key];
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> upper_bounds, const Labels& labels) {
  auto fresh = std::make_unique<Histogram>(std::move(upper_bounds));  // validates bounds
  Labels key = normalized(name, labels, kHistogram);
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kHistogram);
  // One family, one set of buckets: series with different bounds cannot be aggregated.
  if (!f.series.empty() && f.series.begin()->second.histogram->bounds() != fresh->bounds()) {
    throw std::logic_error("histogram " + name + " registered again with different buckets");
  }
  Series& s = f.series[key];
  if (!s.histogram) s.histogram = std::move(fresh);
  return *s.histogram;
}

void Registry::gauge_fn(const std::string& name, const std::string& help,
                        std::function<double()> fn, const Labels& labels) {
  Labels key = normalized(name, labels, kGaugeFn);
  std::lock_guard lock(mu_);
  // Registering again replaces the function: a component restarted in a test
  // points the gauge at its new state.
  family(name, help, kGaugeFn).series[key].fn = std::move(fn);
}

void Registry::counter_fn(const std::string& name, const std::string& help,
                          std::function<double()> fn, const Labels& labels) {
  Labels key = normalized(name, labels, kCounterFn);
  std::lock_guard lock(mu_);
  family(name, help, kCounterFn).series[key].fn = std::move(fn);
}

namespace {

struct SeriesView {
  const Labels* labels;
  const Series* series;
  std::function<double()> fn;  // copied, so it can run without the registry lock
};

struct FamilyView {
  const std::string* name;
  const std::string* help;
  int kind;
  std::vector<SeriesView> series;
};

void append_family(std::string& out, const FamilyView& f) {
  out += "# HELP " + *f.name + " ";
  append_escaped(out, *f.help, false);
  out += "\n# TYPE " + *f.name + " " + exposition_type(f.kind) + "\n";
  for (const SeriesView& v : f.series) {
    const Series& s = *v.series;
    if (f.kind == kCounter) {
      append_sample(out, *f.name, *v.labels, std::to_string(s.counter->value()));
    } else if (f.kind == kGauge) {
      append_sample(out, *f.name, *v.labels, std::to_string(s.gauge->value()));
    } else if (f.kind == kGaugeFn || f.kind == kCounterFn) {
      append_sample(out, *f.name, *v.labels, format_double(v.fn ? v.fn() : NAN));
    } else {
      append_histogram(out, *f.name, *v.labels, *s.histogram);
    }
  }
}

}  // namespace

std::string Registry::render() const {
  // Snapshot under the lock, render outside it: a gauge function may be slow or
  // may itself touch the registry. Names, labels and series live as long as the
  // registry and are never removed, so the pointers stay valid.
  std::vector<FamilyView> views;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, family] : families_) {
      FamilyView& fv = views.emplace_back(FamilyView{&name, &family->help, family->kind, {}});
      for (const auto& [labels, series] : family->series) {
        fv.series.push_back(SeriesView{&labels, &series, series.fn});
      }
    }
  }
  std::string out;
  for (const FamilyView& f : views) append_family(out, f);
  return out;
}

}  // namespace shoal::metrics
