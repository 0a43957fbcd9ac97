#include "core/token_bucket.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Any fixed point works: the code never reads the clock.
const SteadyTime t0 = SteadyTime{} + 1000h;

TEST(TokenBucket, StartsFullAndAllowsABurst) {
  TokenBucket b({.rate_per_s = 10, .burst = 5});
  EXPECT_DOUBLE_EQ(b.available(t0), 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_take(1, t0)) << i;
  EXPECT_FALSE(b.try_take(1, t0));
  EXPECT_DOUBLE_EQ(b.available(t0), 0) << "a refused take costs nothing";
}

TEST(TokenBucket, ANewBucketIsFullWhateverTheTime) {
  TokenBucket b({.rate_per_s = 1, .burst = 3});
  EXPECT_DOUBLE_EQ(b.available(SteadyTime{}), 3);
  EXPECT_TRUE(b.try_take(3, SteadyTime{}));
  EXPECT_FALSE(b.try_take(0.5, SteadyTime{}));
}

TEST(TokenBucket, RefillsAtTheRateUpToTheBurst) {
  TokenBucket b({.rate_per_s = 10, .burst = 5});
  ASSERT_TRUE(b.try_take(5, t0));
  EXPECT_FALSE(b.try_take(1, t0 + 99ms));
  EXPECT_TRUE(b.try_take(1, t0 + 100ms));
  EXPECT_FALSE(b.try_take(1, t0 + 100ms));
  EXPECT_DOUBLE_EQ(b.available(t0 + 350ms), 2.5);
  EXPECT_DOUBLE_EQ(b.available(t0 + 1h), 5) << "idle time beyond a full bucket is lost";
  EXPECT_TRUE(b.full(t0 + 1h));
  EXPECT_FALSE(b.full(t0 + 350ms));
}

TEST(TokenBucket, TakesFractionsOfATokenAndWholeBursts) {
  TokenBucket b({.rate_per_s = 1, .burst = 2});
  EXPECT_TRUE(b.try_take(1.5, t0));
  EXPECT_TRUE(b.try_take(0.5, t0));
  EXPECT_FALSE(b.try_take(0.25, t0));
  EXPECT_FALSE(b.try_take(2.5, t0 + 1h)) << "more than the burst is never there";
  EXPECT_TRUE(b.try_take(2, t0 + 1h));
}

TEST(TokenBucket, TakeGoesIntoDebtThatMustBeRepaid) {
  TokenBucket b({.rate_per_s = 100, .burst = 100});  // say bytes per second
  b.take(250, t0);          // a response larger than the burst, debited after sending
  EXPECT_DOUBLE_EQ(b.available(t0), -150);
  EXPECT_EQ(b.retry_after(1, t0), 1510ms);
  EXPECT_FALSE(b.try_take(1, t0 + 1500ms));
  EXPECT_TRUE(b.try_take(1, t0 + 1510ms));
  b.take(50, t0 + 1510ms);
  EXPECT_NEAR(b.available(t0 + 1510ms), -50, 1e-9);
}

TEST(TokenBucket, RetryAfterValues) {
  TokenBucket b({.rate_per_s = 2, .burst = 4});
  EXPECT_EQ(b.retry_after(1, t0), 0ms) << "available now";
  b.take(4, t0);
  EXPECT_EQ(b.retry_after(1, t0), 500ms);
  EXPECT_EQ(b.retry_after(4, t0), 2000ms);
  EXPECT_EQ(b.retry_after(1, t0 + 200ms), 300ms);
  EXPECT_EQ(b.retry_after(0, t0), 0ms) << "not in debt";
  EXPECT_EQ(b.retry_after(5, t0), milliseconds::max()) << "over the burst: never";
  TokenBucket thirds({.rate_per_s = 3, .burst = 1});
  thirds.take(1, t0);
  EXPECT_EQ(thirds.retry_after(1, t0), 334ms) << "rounded up: 333.3 ms would be too early";
  TokenBucket fixed({.rate_per_s = 0, .burst = 1});
  fixed.take(1, t0);
  EXPECT_EQ(fixed.retry_after(1, t0 + 1h), milliseconds::max()) << "rate 0 never refills";
}

TEST(TokenBucket, WaitingRetryAfterIsAlwaysEnough) {
  for (double rate : {0.3, 1.0, 3.0, 7.0, 1000.0, 12'500'000.0}) {
    for (double n : {0.1, 1.0, 2.5}) {
      TokenBucket b({.rate_per_s = rate, .burst = 3});
      b.take(3 + rate / 7, t0);  // some debt too
      milliseconds wait = b.retry_after(n, t0);
      ASSERT_GT(wait, 0ms);
      EXPECT_TRUE(b.try_take(n, t0 + wait)) << rate << " " << n;
    }
  }
}

TEST(TokenBucket, AnEarlierTimeAddsNothing) {
  // Threads read the clock before taking the limiter's lock, so times can arrive out
  // of order; the balance neither refills nor goes back.
  TokenBucket b({.rate_per_s = 1, .burst = 10});
  b.take(10, t0 + 5s);
  EXPECT_DOUBLE_EQ(b.available(t0), 0);
  EXPECT_FALSE(b.try_take(1, t0));
  EXPECT_TRUE(b.try_take(1, t0 + 6s));
}

TEST(TokenBucket, OneTokenPerEventBurstsThenKeepsToTheRate) {
  TokenBucket bucket({.rate_per_s = 5, .burst = 10});  // HTTP/2's flood limits use it so
  auto t = t0;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.try_take(1, t)) << i;
  EXPECT_FALSE(bucket.try_take(1, t));
  t += 1s;  // five more
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.try_take(1, t)) << i;
  EXPECT_FALSE(bucket.try_take(1, t));
  t += 1h;  // refills only up to the burst
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.try_take(1, t)) << i;
  EXPECT_FALSE(bucket.try_take(1, t));
  EXPECT_FALSE(bucket.try_take(1, t - 1s)) << "time going backwards gives nothing";
}

TEST(TokenBucket, NegativeLimitsCountAsZero) {
  TokenBucket b({.rate_per_s = -5, .burst = -1});
  EXPECT_EQ(b.rate(), 0);
  EXPECT_EQ(b.burst(), 0);
  EXPECT_TRUE(b.try_take(0, t0));
  EXPECT_FALSE(b.try_take(0.5, t0 + 1h));
}

TEST(TokenBucket, GivingBackNeverFillsPastTheBurst) {
  TokenBucket b({.rate_per_s = 10, .burst = 20});
  const auto at = SteadyTime{} + 1h;
  b.take(30, at);
  EXPECT_DOUBLE_EQ(b.available(at), -10);
  b.give(15);
  EXPECT_DOUBLE_EQ(b.available(at), 5);
  b.give(100);
  EXPECT_DOUBLE_EQ(b.available(at), 20);
  b.give(-5);  // nothing to give: no change
  EXPECT_DOUBLE_EQ(b.available(at), 20);
}

}  // namespace
}  // namespace shoal
