#include "edge/s3fifo.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <unordered_map>
#include <vector>

namespace shoal::edge {
namespace {

using Queue = S3Fifo::Queue;
using Keys = std::vector<Digest>;

Digest key(uint32_t i) {
  Digest::Bytes raw{};
  for (size_t b = 0; b < 4; ++b) raw[b] = static_cast<uint8_t>(i >> (8 * b));
  raw[31] = 0x5f;  // never the all-zero digest
  return Digest::from_bytes(raw);
}

std::optional<Queue> queue_of(const S3Fifo& cache, uint32_t k) {
  auto e = cache.inspect(key(k));
  return e ? std::optional<Queue>(e->queue) : std::nullopt;
}

// Budget 1000, so the small queue's share is 100.
//   H (100, hit once), then O1..O9 (100 each): the cache is full, all in small.
//   O10 forces the first eviction: H was hit, so it moves to main; O1 was not and
//   leaves through the ghost.
class S3FifoWithOneHotObject : public ::testing::Test {
 protected:
  static constexpr uint32_t kHot = 1000;
  void SetUp() override {
    EXPECT_TRUE(cache_.insert(key(kHot), 100).empty());
    EXPECT_TRUE(cache_.touch(key(kHot)));
    for (uint32_t i = 1; i <= 9; ++i) EXPECT_TRUE(cache_.insert(key(i), 100).empty());
    EXPECT_EQ(cache_.used_bytes(), 1000u);
    EXPECT_EQ(queue_of(cache_, kHot), Queue::small);
    EXPECT_EQ(cache_.insert(key(10), 100), Keys{key(1)});
    EXPECT_EQ(queue_of(cache_, kHot), Queue::main);
  }
  S3Fifo cache_{1000};
};

TEST(S3Fifo, StartsEmpty) {
  S3Fifo cache(1 << 20);
  EXPECT_EQ(cache.budget(), 1u << 20);
  EXPECT_EQ(cache.used_bytes(), 0u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.contains(key(1)));
  EXPECT_FALSE(cache.touch(key(1)));
  EXPECT_FALSE(cache.erase(key(1)));
  EXPECT_FALSE(cache.inspect(key(1)));
}

TEST(S3Fifo, NewObjectsEnterSmallAndMayFillTheWholeBudget) {
  // The 10% share decides which queue gives up an entry, not where new ones go:
  // until something must leave, small may hold everything.
  S3Fifo cache(1000);
  for (uint32_t i = 1; i <= 10; ++i) EXPECT_TRUE(cache.insert(key(i), 100).empty());
  EXPECT_EQ(cache.used_bytes(), 1000u);
  EXPECT_EQ(cache.small_bytes(), 1000u);
  EXPECT_EQ(cache.size(), 10u);
  for (uint32_t i = 1; i <= 10; ++i) EXPECT_EQ(queue_of(cache, i), Queue::small);
}

TEST_F(S3FifoWithOneHotObject, OneHitWondersLeaveThroughSmallWithoutTouchingMain) {
  for (uint32_t i = 11; i < 500; ++i) {
    // FIFO order: each new object pushes out the oldest one-hit object.
    ASSERT_EQ(cache_.insert(key(i), 100), Keys{key(i - 9)}) << i;
    ASSERT_EQ(cache_.main_bytes(), 100u);
    ASSERT_TRUE(cache_.contains(key(kHot)));
  }
  EXPECT_EQ(cache_.used_bytes(), 1000u);
}

TEST_F(S3FifoWithOneHotObject, EvictedFromSmallMeansNotResidentButRemembered) {
  EXPECT_FALSE(cache_.contains(key(1)));
  EXPECT_FALSE(cache_.touch(key(1))) << "a ghost is no hit";
  EXPECT_EQ(queue_of(cache_, 1), Queue::ghost);
  EXPECT_EQ(cache_.ghost_size(), 1u);
  EXPECT_EQ(cache_.size(), 10u);
}

TEST_F(S3FifoWithOneHotObject, AKeyRequestedAgainWhileInTheGhostGoesToMain) {
  EXPECT_EQ(cache_.insert(key(1), 100), Keys{key(2)});
  EXPECT_EQ(queue_of(cache_, 1), Queue::main);
  EXPECT_EQ(cache_.inspect(key(1))->freq, 0);
  EXPECT_EQ(cache_.main_bytes(), 200u);
  EXPECT_EQ(cache_.used_bytes(), 1000u);
}

TEST_F(S3FifoWithOneHotObject, TheGhostHoldsAsManyKeysAsMainHoldsObjects) {
  EXPECT_EQ(cache_.insert(key(11), 100), Keys{key(2)});
  EXPECT_EQ(cache_.ghost_size(), 1u);  // main holds one object
  EXPECT_EQ(queue_of(cache_, 2), Queue::ghost);
  EXPECT_FALSE(cache_.inspect(key(1))) << "the older ghost is forgotten";
  EXPECT_EQ(cache_.insert(key(1), 100), Keys{key(3)});
  EXPECT_EQ(queue_of(cache_, 1), Queue::small);
}

TEST(S3Fifo, ObjectsHitInSmallMoveToMainStartingCold) {
  S3Fifo cache(1000);
  cache.insert(key(1), 500);
  for (int i = 0; i < 3; ++i) cache.touch(key(1));
  EXPECT_EQ(cache.inspect(key(1))->freq, 3);
  cache.insert(key(2), 500);
  EXPECT_EQ(cache.insert(key(3), 100), Keys{key(2)});
  auto e = cache.inspect(key(1));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->queue, Queue::main);
  EXPECT_EQ(e->freq, 0) << "it must be requested again to stay";
}

TEST(S3Fifo, TouchCountsHitsUpToThree) {
  S3Fifo cache(1000);
  cache.insert(key(1), 10);
  EXPECT_EQ(cache.inspect(key(1))->freq, 0);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_TRUE(cache.touch(key(1)));
    EXPECT_EQ(cache.inspect(key(1))->freq, std::min(i, 3));
  }
}

TEST(S3Fifo, MainReinsertsWhatWasHitAndEvictsWhatWasNot) {
  S3Fifo cache(1000);
  for (uint32_t i : {1, 2, 3, 4}) {
    cache.insert(key(i), 200);
    cache.touch(key(i));
  }
  cache.insert(key(5), 200);  // never hit
  // 1..4 move to main in insertion order (1 oldest); 5 leaves through the ghost.
  EXPECT_EQ(cache.insert(key(6), 10), Keys{key(5)});
  EXPECT_EQ(cache.main_bytes(), 800u);
  cache.touch(key(1));
  cache.touch(key(1));
  cache.touch(key(2));
  // Small holds 10 bytes, under its share, so main gives up an entry: 1 and 2 are
  // older but were hit, so they go round again with one hit fewer; 3 was not.
  EXPECT_EQ(cache.insert(key(7), 200), Keys{key(3)});
  EXPECT_EQ(cache.inspect(key(1))->freq, 1);
  EXPECT_EQ(cache.inspect(key(2))->freq, 0);
  for (uint32_t i : {1, 2, 4}) EXPECT_EQ(queue_of(cache, i), Queue::main) << i;
  // Main now runs 4 (oldest), 1, 2. With small under its share again, a large
  // insert takes from main: 4 goes, 1 spends its last hit, 2 goes.
  EXPECT_TRUE(cache.erase(key(7)));
  EXPECT_EQ(cache.insert(key(9), 700), (Keys{key(4), key(2)}));
  EXPECT_EQ(queue_of(cache, 1), Queue::main);
  EXPECT_EQ(cache.inspect(key(1))->freq, 0);
}

TEST(S3Fifo, RejectsObjectsLargerThanTheWholeBudget) {
  S3Fifo cache(1000);
  cache.insert(key(1), 100);
  EXPECT_TRUE(cache.admits(1000));
  EXPECT_FALSE(cache.admits(1001));
  EXPECT_EQ(cache.insert(key(2), 1001), Keys{key(2)}) << "returned so the caller deletes it";
  EXPECT_FALSE(cache.contains(key(2)));
  EXPECT_TRUE(cache.contains(key(1)));
  EXPECT_EQ(cache.used_bytes(), 100u);
  EXPECT_EQ(cache.insert(key(3), 1000), Keys{key(1)});
  EXPECT_TRUE(cache.contains(key(3)));
  EXPECT_EQ(cache.used_bytes(), 1000u);
}

TEST(S3Fifo, AnObjectOverSmallsShareStillStartsInSmall) {
  S3Fifo cache(1000);
  EXPECT_TRUE(cache.insert(key(1), 800).empty());
  EXPECT_EQ(queue_of(cache, 1), Queue::small);
  // Never hit, it is the first to go when room is needed.
  EXPECT_EQ(cache.insert(key(2), 300), Keys{key(1)});
  EXPECT_FALSE(cache.contains(key(1)));
}

TEST(S3Fifo, ZeroBudgetAdmitsOnlyEmptyObjects) {
  S3Fifo cache(0);
  EXPECT_EQ(cache.insert(key(1), 1), Keys{key(1)});
  EXPECT_TRUE(cache.insert(key(2), 0).empty());
  EXPECT_TRUE(cache.contains(key(2)));
}

TEST_F(S3FifoWithOneHotObject, EraseForgetsResidentAndGhostEntries) {
  EXPECT_TRUE(cache_.erase(key(10)));  // in small
  EXPECT_EQ(cache_.used_bytes(), 900u);
  EXPECT_TRUE(cache_.erase(key(kHot)));  // in main
  EXPECT_EQ(cache_.main_bytes(), 0u);
  EXPECT_FALSE(cache_.erase(key(kHot)));
  EXPECT_EQ(cache_.ghost_size(), 0u) << "main is empty, so is the ghost";
  EXPECT_FALSE(cache_.inspect(key(1)));
  EXPECT_EQ(cache_.size(), 8u);
  EXPECT_FALSE(cache_.erase(key(12345)));
}

TEST_F(S3FifoWithOneHotObject, ErasingAGhostGivesItNoHeadStart) {
  ASSERT_EQ(queue_of(cache_, 1), Queue::ghost);
  EXPECT_FALSE(cache_.erase(key(1))) << "not resident";
  EXPECT_FALSE(cache_.inspect(key(1)));
  cache_.insert(key(1), 100);
  EXPECT_EQ(queue_of(cache_, 1), Queue::small);
}

TEST(S3Fifo, InsertingAResidentKeyReplacesItsSizeAndCountsAsAHit) {
  S3Fifo cache(1000);
  cache.insert(key(1), 100);
  EXPECT_TRUE(cache.insert(key(1), 300).empty());
  EXPECT_EQ(cache.used_bytes(), 300u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.inspect(key(1))->freq, 1);
  EXPECT_EQ(cache.insert(key(1), 2000), Keys{key(1)});
  EXPECT_FALSE(cache.contains(key(1)));
  EXPECT_EQ(cache.used_bytes(), 0u);
}

// Random accesses against a model of what is resident: the budget holds after every
// call, evicted keys are gone, and the byte and entry counts add up.
TEST(S3Fifo, RandomOperationsKeepTheInvariants) {
  constexpr uint64_t kBudget = 10'000;
  constexpr uint32_t kKeys = 300;
  S3Fifo cache(kBudget);
  std::unordered_map<uint32_t, uint64_t> model;
  std::mt19937_64 rng(7);
  bool saw_main = false, saw_ghost = false;
  for (int step = 0; step < 20'000; ++step) {
    // Skewed towards low keys, so some are hit and reach main.
    uint32_t k = static_cast<uint32_t>((rng() % kKeys) * (rng() % kKeys) / kKeys);
    uint64_t roll = rng() % 100;
    if (roll < 5) {
      EXPECT_EQ(cache.erase(key(k)), model.erase(k) == 1);
    } else if (!cache.touch(key(k))) {
      ASSERT_FALSE(model.contains(k));
      uint64_t size = roll < 7 ? kBudget + 1 : 1 + rng() % 2000;
      auto evicted = cache.insert(key(k), size);
      std::set<Digest> unique(evicted.begin(), evicted.end());
      ASSERT_EQ(unique.size(), evicted.size()) << "no key evicted twice";
      for (uint32_t other = 0; other < kKeys; ++other) {
        if (unique.contains(key(other)) && other != k) {
          ASSERT_EQ(model.erase(other), 1u) << "only resident keys are evicted";
        }
      }
      if (size > kBudget) {
        ASSERT_EQ(evicted, Keys{key(k)});
      } else {
        ASSERT_FALSE(unique.contains(key(k)));
        model[k] = size;
      }
    }
    uint64_t bytes = 0;
    for (auto [mk, size] : model) bytes += size;
    ASSERT_EQ(cache.used_bytes(), bytes) << step;
    ASSERT_LE(cache.used_bytes(), kBudget);
    ASSERT_EQ(cache.size(), model.size());
    ASSERT_EQ(cache.small_bytes() + cache.main_bytes(), cache.used_bytes());
    ASSERT_LE(cache.ghost_size(), cache.size());
    for (uint32_t i = 0; i < kKeys; ++i) ASSERT_EQ(cache.contains(key(i)), model.contains(i));
    saw_main |= cache.main_bytes() > 0;
    saw_ghost |= cache.ghost_size() > 0;
  }
  EXPECT_TRUE(saw_main && saw_ghost) << "the walk exercised every queue";
}

}  // namespace
}  // namespace shoal::edge
