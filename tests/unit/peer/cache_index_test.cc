#include "peer/cache_index.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::peer {
namespace {

using namespace std::chrono_literals;
using Clock = CacheIndex::Clock;

Digest digest_of(int i) {
  std::string s = std::to_string(i);
  return Sha256::of(s.data(), s.size());
}

TEST(CacheIndex, EvictsLeastRecentlyUsedFirstDownToBudget) {
  CacheIndex c(100, 0ms);
  auto t0 = Clock::now();
  c.insert(digest_of(1), 40, t0);
  c.insert(digest_of(2), 40, t0 + 1s);
  c.insert(digest_of(3), 40, t0 + 2s);
  c.touch(digest_of(1), t0 + 3s);  // 2 is now the least recently used
  auto victims = c.take_victims(t0 + 4s);
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0], digest_of(2));
  EXPECT_EQ(c.bytes(), 80u);
  EXPECT_FALSE(c.contains(digest_of(2)));
}

TEST(CacheIndex, ReserveMakesRoomForADownload) {
  CacheIndex c(100, 0ms);
  auto t0 = Clock::now();
  c.insert(digest_of(1), 30, t0);
  c.insert(digest_of(2), 30, t0 + 1s);
  EXPECT_TRUE(c.take_victims(t0 + 2s).empty());
  auto victims = c.take_victims(t0 + 2s, 60);
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0], digest_of(1));
}

TEST(CacheIndex, IdleTtlEvictsWithinBudget) {
  CacheIndex c(0, 10s);
  auto t0 = Clock::now();
  c.insert(digest_of(1), 5, t0);
  c.insert(digest_of(2), 5, t0 + 8s);
  EXPECT_TRUE(c.take_victims(t0 + 9s).empty());
  auto victims = c.take_victims(t0 + 12s);
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0], digest_of(1));
  EXPECT_EQ(c.size(), 1u);
}

TEST(CacheIndex, NoLimitsNoVictims) {
  CacheIndex c(0, 0ms);
  auto t0 = Clock::now();
  c.insert(digest_of(1), uint64_t{1} << 40, t0);
  EXPECT_TRUE(c.take_victims(t0 + 1000h, uint64_t{1} << 40).empty());
}

TEST(CacheIndex, InsertAgainUpdatesSizeAndRecency) {
  CacheIndex c(100, 0ms);
  auto t0 = Clock::now();
  c.insert(digest_of(1), 60, t0);
  c.insert(digest_of(2), 30, t0 + 1s);
  c.insert(digest_of(1), 60, t0 + 2s);
  EXPECT_EQ(c.bytes(), 90u);
  auto victims = c.take_victims(t0 + 3s, 20);
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0], digest_of(2));
}

}  // namespace
}  // namespace shoal::peer
