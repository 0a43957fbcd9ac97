#include "http/h2/flood.h"

#include <gtest/gtest.h>

namespace shoal::http::h2 {
namespace {

using namespace std::chrono_literals;

TEST(H2TokenBucket, BurstThenRate) {
  TokenBucket bucket(10, 5);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.take(t)) << i;
  EXPECT_FALSE(bucket.take(t));
  t += 1s;  // five more
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.take(t)) << i;
  EXPECT_FALSE(bucket.take(t));
  t += 1h;  // refills only up to the burst
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.take(t)) << i;
  EXPECT_FALSE(bucket.take(t));
  EXPECT_FALSE(bucket.take(t - 1s));  // time going backwards gives nothing
}

}  // namespace
}  // namespace shoal::http::h2
