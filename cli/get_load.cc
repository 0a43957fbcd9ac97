#include "cli/get_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/sha256.h"

namespace shoal::cli::get {
namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  Shared(const LoadPlan& p, const http::ClientOptions& o) : plan(p), options(o) {}
  const LoadPlan& plan;
  const http::ClientOptions& options;
  std::atomic<uint64_t> next{0};
  std::mutex mu;  // guards summary
  LoadSummary summary;
};

// What one thread has measured; merged into the summary at the end.
struct Tally {
  std::vector<double> latencies;
  uint64_t failures = 0, bytes = 0;
  std::string first_error;

  void fail(const std::string& message) {
    ++failures;
    if (first_error.empty()) first_error = message;
  }
};

// The checks a response must pass to count as a success.
Result<void> judge(const Result<http::Response>& r, const std::optional<Digest>& expected,
                   Sha256& hash) {
  if (!r) return r.error();
  if (!r->success()) return Error(http::errc_for_status(r->status), http::describe_failure(*r));
  if (expected && hash.finish() != *expected)
    return Error(Errc::digest_mismatch, "body does not hash to " + expected->str());
  return {};
}

// Hands out the plan's requests to a connection, each with its own hash and clock.
http::NextRequest next_item(Shared& shared, Tally& tally) {
  return [&shared, &tally](http::StreamRequest& item) {
    if (shared.next.fetch_add(1) >= shared.plan.requests) return false;
    struct Pending {
      Clock::time_point start = Clock::now();
      uint64_t bytes = 0;
      Sha256 hash;
    };
    auto p = std::make_shared<Pending>();
    const auto& expected = shared.plan.expected;
    item.sink = [p, &expected](const char* data, size_t n) -> Result<void> {
      p->bytes += n;
      if (expected) p->hash.update(data, n);
      return {};
    };
    item.done = [p, &expected, &tally](Result<http::Response> r) {
      tally.latencies.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - p->start).count());
      if (auto ok = judge(r, expected, p->hash); ok)
        tally.bytes += p->bytes;
      else
        tally.fail(ok.error().message);
    };
    return true;
  };
}

bool requests_left(const Shared& shared) { return shared.next.load() < shared.plan.requests; }

void worker(Shared& shared, std::unique_ptr<http::Transport> transport, http::Protocol protocol) {
  Tally tally;
  http::NextRequest next = next_item(shared, tally);
  while (requests_left(shared)) {
    if (!transport) {  // (re)connecting costs one request when it fails, so this ends
      auto opened = http::open_transport(protocol, shared.plan.base, shared.options);
      if (opened) {
        transport = std::move(*opened);
      } else if (http::StreamRequest item; next(item)) {
        item.done(opened.error());
      }
      continue;
    }
    transport->download_batch(shared.plan.path, shared.plan.headers, shared.plan.streams, next);
  }
  std::lock_guard lock(shared.mu);
  LoadSummary& s = shared.summary;
  s.failures += tally.failures;
  s.bytes += tally.bytes;
  s.latencies_ms.insert(s.latencies_ms.end(), tally.latencies.begin(), tally.latencies.end());
  if (s.first_error.empty()) s.first_error = tally.first_error;
}

}  // namespace

LoadSummary run_load(const LoadPlan& plan, std::unique_ptr<http::Transport> first,
                     const http::ClientOptions& options) {
  Shared shared(plan, options);
  http::Protocol protocol = first->protocol();
  auto start = Clock::now();
  std::vector<std::thread> threads;
  threads.emplace_back(worker, std::ref(shared), std::move(first), protocol);
  for (unsigned i = 1; i < plan.connections; ++i)
    threads.emplace_back(worker, std::ref(shared), nullptr, protocol);
  for (auto& t : threads) t.join();
  LoadSummary s = std::move(shared.summary);
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.requests = plan.requests;
  s.protocol = protocol;
  s.connections = plan.connections;
  // Only the HTTP/2 client keeps several requests in flight on one connection.
  s.streams = protocol == http::Protocol::http2 ? plan.streams : 1;
  std::sort(s.latencies_ms.begin(), s.latencies_ms.end());
  return s;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

namespace {

struct Rates {
  double rps, bytes_per_s, mib_per_s;
};

Rates rates(const LoadSummary& s) {
  double secs = s.seconds > 0 ? s.seconds : 1e-9;
  double bps = static_cast<double>(s.bytes) / secs;
  return {static_cast<double>(s.requests) / secs, bps, bps / (1024.0 * 1024.0)};
}

}  // namespace

std::string format_summary(const LoadSummary& s) {
  Rates r = rates(s);
  const auto& l = s.latencies_ms;
  std::string proto(http::protocol_name(s.protocol));
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "protocol  %s, %u connections x %u streams\n"
      "requests  %llu, %llu failed, in %.3f s\n"
      "rate      %.1f requests/s, %.2f MiB/s\n"
      "latency   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      proto.c_str(), s.connections, s.streams, static_cast<unsigned long long>(s.requests),
      static_cast<unsigned long long>(s.failures), s.seconds, r.rps, r.mib_per_s,
      percentile(l, 0.5), percentile(l, 0.9), percentile(l, 0.99), l.empty() ? 0.0 : l.back());
  return buf;
}

std::string format_summary_json(const LoadSummary& s) {
  Rates r = rates(s);
  const auto& l = s.latencies_ms;
  std::string proto(http::protocol_name(s.protocol));
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "{\"requests\":%llu,\"failures\":%llu,\"bytes\":%llu,\"seconds\":%.6f,"
                "\"requests_per_second\":%.3f,\"bytes_per_second\":%.1f,\"mib_per_second\":%.3f,"
                "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
                "\"protocol\":\"%s\",\"connections\":%u,\"streams\":%u}",
                static_cast<unsigned long long>(s.requests),
                static_cast<unsigned long long>(s.failures),
                static_cast<unsigned long long>(s.bytes), s.seconds, r.rps, r.bytes_per_s,
                r.mib_per_s, percentile(l, 0.5), percentile(l, 0.9), percentile(l, 0.99),
                l.empty() ? 0.0 : l.back(), proto.c_str(), s.connections, s.streams);
  return buf;
}

}  // namespace shoal::cli::get
