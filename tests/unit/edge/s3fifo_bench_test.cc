// Hit ratios of S3-FIFO against LRU on a synthetic CDN workload: Zipf popularity over
// objects whose sizes span 1 KiB to 4 MiB. Deterministic (fixed seed, no library
// distributions, whose algorithms differ between standard libraries), and sized to
// run in about a second optimised and well under 30 s under ASan.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core/digest.h"
#include "edge/s3fifo.h"
#include "tests/unit/edge/lru_policy.h"

namespace shoal::edge {
namespace {

constexpr size_t kObjects = 100'000;
constexpr size_t kRequests = 1'000'000;
constexpr size_t kWarmup = kRequests / 10;  // not counted: every cache starts cold
constexpr uint64_t kMinSize = 1 << 10;
constexpr uint64_t kMaxSize = 4 << 20;

// Uniform in [0, 1) from the top 53 bits: the same sequence on every platform.
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

struct Objects {
  std::vector<Digest> keys;
  std::vector<uint64_t> sizes;  // log-uniform: many small objects, a long tail of big ones
  uint64_t total_bytes = 0;
};

Objects make_objects(std::mt19937_64& rng) {
  Objects o;
  o.keys.reserve(kObjects);
  o.sizes.reserve(kObjects);
  const double span = std::log(static_cast<double>(kMaxSize) / kMinSize);
  for (size_t i = 0; i < kObjects; ++i) {
    Digest::Bytes raw{};
    for (size_t b = 0; b < raw.size(); b += 8) {
      uint64_t r = rng();
      std::copy_n(reinterpret_cast<const uint8_t*>(&r), 8, raw.begin() + b);
    }
    o.keys.push_back(Digest::from_bytes(raw));
    auto size = static_cast<uint64_t>(kMinSize * std::exp(uniform(rng) * span));
    o.sizes.push_back(std::clamp(size, kMinSize, kMaxSize));
    o.total_bytes += o.sizes.back();
  }
  return o;
}

// Object i has popularity rank i + 1 (sizes are independent of rank).
std::vector<uint32_t> zipf_requests(double alpha, std::mt19937_64& rng) {
  std::vector<double> cdf(kObjects);
  double sum = 0;
  for (size_t i = 0; i < kObjects; ++i) {
    sum += 1.0 / std::pow(static_cast<double>(i + 1), alpha);
    cdf[i] = sum;
  }
  std::vector<uint32_t> requests(kRequests);
  for (auto& r : requests) {
    auto it = std::upper_bound(cdf.begin(), cdf.end(), uniform(rng) * sum);
    r = static_cast<uint32_t>(std::min<size_t>(it - cdf.begin(), kObjects - 1));
  }
  return requests;
}

struct Ratios {
  double objects = 0;
  double bytes = 0;
  double seconds = 0;
};

template <class Policy>
Ratios simulate(const Objects& o, const std::vector<uint32_t>& requests, uint64_t budget) {
  auto start = std::chrono::steady_clock::now();
  Policy policy(budget);
  uint64_t hits = 0, counted = 0, hit_bytes = 0, counted_bytes = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    uint32_t obj = requests[i];
    bool hit = policy.touch(o.keys[obj]);
    if (!hit) policy.insert(o.keys[obj], o.sizes[obj]);
    if (i < kWarmup) continue;
    ++counted;
    counted_bytes += o.sizes[obj];
    hits += hit;
    hit_bytes += hit ? o.sizes[obj] : 0;
  }
  EXPECT_LE(policy.used_bytes(), budget);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return {static_cast<double>(hits) / counted,
          static_cast<double>(hit_bytes) / static_cast<double>(counted_bytes), took.count()};
}

TEST(S3FifoBench, BeatsLruOnZipfWorkloads) {
  std::mt19937_64 rng(20231023);
  const Objects objects = make_objects(rng);
  std::printf("%zu objects, %.1f GiB, sizes log-uniform 1 KiB..4 MiB; %zu requests (%zu warm-up)\n",
              kObjects, static_cast<double>(objects.total_bytes) / (1 << 30), kRequests, kWarmup);
  std::printf("alpha  cache  | LRU obj  LRU byte | S3F obj  S3F byte | seconds LRU/S3F\n");
  for (double alpha : {0.8, 1.0}) {
    const auto requests = zipf_requests(alpha, rng);
    for (double fraction : {0.01, 0.10}) {
      auto budget = static_cast<uint64_t>(static_cast<double>(objects.total_bytes) * fraction);
      Ratios lru = simulate<test::LruPolicy>(objects, requests, budget);
      Ratios s3 = simulate<S3Fifo>(objects, requests, budget);
      std::printf("%.1f    %4.0f%%  | %6.2f%%  %6.2f%%  | %6.2f%%  %6.2f%%  | %.2f/%.2f\n", alpha,
                  fraction * 100, lru.objects * 100, lru.bytes * 100, s3.objects * 100,
                  s3.bytes * 100, lru.seconds, s3.seconds);
      EXPECT_GT(s3.objects, lru.objects) << "alpha " << alpha << ", cache " << fraction;
    }
  }
}

}  // namespace
}  // namespace shoal::edge
