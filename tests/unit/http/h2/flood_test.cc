#include "http/h2/flood.h"

#include <gtest/gtest.h>

namespace shoal::http::h2 {
namespace {

TEST(FloodLimits, BucketsHoldBurstSecondsOfTheRate) {
  FloodLimits limits{.resets_per_second = 100, .control_per_second = 50, .burst_seconds = 2};
  EXPECT_EQ(limits.resets().rate_per_s, 100);
  EXPECT_EQ(limits.resets().burst, 200);
  EXPECT_EQ(limits.control().rate_per_s, 50);
  EXPECT_EQ(limits.control().burst, 100);
}

TEST(FloodLimits, AZeroRateStillAllowsOneEvent) {
  FloodLimits limits{.resets_per_second = 0, .control_per_second = 0, .burst_seconds = 2};
  TokenBucket resets(limits.resets());
  const auto t = Clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(resets.try_take(1, t));
  EXPECT_FALSE(resets.try_take(1, t + std::chrono::hours(1)));
}

}  // namespace
}  // namespace shoal::http::h2
