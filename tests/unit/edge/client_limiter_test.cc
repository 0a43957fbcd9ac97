#include "edge/client_limiter.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace shoal::edge {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

// Any fixed point works: the code never reads the clock.
const SteadyTime t0 = SteadyTime{} + 1000h;

TEST(ClientLimiter, DisabledLimitsAdmitEverythingAndTrackNothing) {
  ClientLimiter limiter(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.admit("10.0.0.1", t0).allowed);
  limiter.account_bytes("10.0.0.1", 1 << 30, t0);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(ClientLimiter, RequestRateWithABurstOfOneSecond) {
  ClientLimiter limiter(5, 0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.admit("10.0.0.1", t0).allowed) << i;
  auto refused = limiter.admit("10.0.0.1", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s) << "200 ms rounds up to a whole second";
  EXPECT_TRUE(limiter.admit("10.0.0.1", t0 + 200ms).allowed);
  EXPECT_FALSE(limiter.admit("10.0.0.1", t0 + 200ms).allowed);
  EXPECT_TRUE(limiter.admit("10.0.0.2", t0).allowed) << "clients are independent";
}

TEST(ClientLimiter, SlowRatesGiveLongerRetryAfter) {
  ClientLimiter limiter(0.1, 0);  // one request per 10 s; the burst is still one
  EXPECT_TRUE(limiter.admit("a", t0).allowed);
  EXPECT_EQ(limiter.admit("a", t0).retry_after, 10s);
  EXPECT_EQ(limiter.admit("a", t0 + 2500ms).retry_after, 8s);
  EXPECT_TRUE(limiter.admit("a", t0 + 10s).allowed);
}

TEST(ClientLimiter, ByteDebtRefusesUntilRepaid) {
  ClientLimiter limiter(0, 1000);
  EXPECT_TRUE(limiter.admit("a", t0).allowed);
  limiter.account_bytes("a", 5000, t0);  // 4000 over the burst
  auto refused = limiter.admit("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 4s);
  EXPECT_EQ(limiter.admit("a", t0 + 3001ms).retry_after, 1s);
  EXPECT_TRUE(limiter.admit("a", t0 + 4s).allowed);
  EXPECT_TRUE(limiter.admit("a", t0 + 4s).allowed) << "no request limit";
}

TEST(ClientLimiter, ARequestRefusedForDebtSpendsNoRequestToken) {
  ClientLimiter limiter(1, 100);
  EXPECT_TRUE(limiter.admit("a", t0).allowed);
  limiter.account_bytes("a", 250, t0);  // balance -150
  EXPECT_FALSE(limiter.admit("a", t0 + 1s).allowed) << "still 50 bytes in debt";
  EXPECT_TRUE(limiter.admit("a", t0 + 1500ms).allowed) << "the request token was kept";
  EXPECT_FALSE(limiter.admit("a", t0 + 1500ms).allowed);
}

TEST(ClientLimiter, AccountingWithoutAByteLimitTracksNothing) {
  ClientLimiter limiter(10, 0);
  limiter.account_bytes("a", 1 << 20, t0);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(ClientLimiter, PruneForgetsOnlyClientsWhoseBucketsAreFullAgain) {
  ClientLimiter limiter(10, 1000);
  limiter.admit("a", t0);
  limiter.admit("b", t0);
  limiter.account_bytes("b", 5000, t0);
  EXPECT_EQ(limiter.tracked(), 2u);
  EXPECT_EQ(limiter.prune(t0), 0u);
  EXPECT_EQ(limiter.prune(t0 + 100ms), 1u) << "a's request token is back";
  EXPECT_EQ(limiter.tracked(), 1u);
  EXPECT_EQ(limiter.prune(t0 + 4999ms), 0u) << "b is still refilling after its debt";
  EXPECT_EQ(limiter.prune(t0 + 5s), 1u);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(ClientLimiter, AFloodOfAddressesStaysUnderTheCap) {
  ClientLimiter limiter(1, 0, 100);
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_TRUE(limiter.admit("2001:db8::" + std::to_string(i), t0 + i * 1ms).allowed);
    ASSERT_LE(limiter.tracked(), 100u);
  }
}

TEST(ClientLimiter, OverTheCapTheLeastRecentlyActiveClientGoes) {
  ClientLimiter limiter(1, 0, 4);
  for (const char* c : {"a", "b", "c", "d"}) EXPECT_TRUE(limiter.admit(c, t0).allowed);
  EXPECT_FALSE(limiter.admit("a", t0 + 500ms).allowed);  // a is active again
  EXPECT_TRUE(limiter.admit("e", t0 + 500ms).allowed);   // no bucket is full: b goes
  EXPECT_EQ(limiter.tracked(), 4u);
  EXPECT_FALSE(limiter.admit("a", t0 + 500ms).allowed) << "a's state was kept";
  EXPECT_TRUE(limiter.admit("b", t0 + 500ms).allowed) << "b starts afresh";
}

TEST(ClientLimiter, OverTheCapIdleClientsArePrunedFirst) {
  ClientLimiter limiter(1, 0, 4);
  for (const char* c : {"a", "b", "c", "d"}) limiter.admit(c, t0);
  limiter.admit("a", t0 + 2s);  // full again before it took a token: still tracked
  EXPECT_TRUE(limiter.admit("e", t0 + 2s).allowed);
  EXPECT_EQ(limiter.tracked(), 2u) << "b, c and d were idle; a and e stay";
  EXPECT_FALSE(limiter.admit("a", t0 + 2s).allowed);
}

TEST(ClientLimiter, ConcurrentCallersNeverExceedTheRate) {
  constexpr int kThreads = 4, kClients = 10, kPerThread = 10'000;
  constexpr size_t kCap = 64;
  ClientLimiter limiter(100, 1e6, kCap);
  std::array<std::atomic<int>, kClients> allowed{};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto now = t0 + i * 100us;  // one second per thread, interleaved out of order
        int c = i % kClients;
        std::string key = "10.0.0." + std::to_string(c);
        if (limiter.admit(key, now).allowed) {
          allowed[c].fetch_add(1);
          limiter.account_bytes(key, 1000, now);
        }
        // A flood of one-off addresses races with them and pushes past the cap.
        if (i % 4 == 0) limiter.admit("flood-" + std::to_string(t) + "-" + std::to_string(i), now);
        if (i % 1000 == 0) limiter.prune(now);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(limiter.tracked(), kCap);
  for (int c = 0; c < kClients; ++c) {
    // The burst plus one second at the rate, however the threads interleaved. The
    // flood evicts only one-off addresses: the shared ones are always more recent.
    EXPECT_GE(allowed[c].load(), 100) << c;
    EXPECT_LE(allowed[c].load(), 200) << c;
  }
}

}  // namespace
}  // namespace shoal::edge
