#include "storage/tag_cache.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::storage {
namespace {

using namespace std::chrono_literals;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

TEST(TagCache, AnUnknownTagIsNotFound) {
  TagCache cache(5min);
  EXPECT_FALSE(cache.find("app", "v1", TagCache::Clock::time_point{}));
}

TEST(TagCache, ATagIsFreshUntilTheTtlThenStaleButKept) {
  TagCache cache(5min);
  const auto t0 = TagCache::Clock::time_point{} + 1h;
  cache.put("app", "v1", digest_of("a"), t0);
  auto e = cache.find("app", "v1", t0 + 4min + 59s);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->fresh);
  EXPECT_EQ(e->digest, digest_of("a"));
  e = cache.find("app", "v1", t0 + 5min);
  ASSERT_TRUE(e);  // stale: still there for when upstream is down
  EXPECT_FALSE(e->fresh);
  EXPECT_EQ(e->digest, digest_of("a"));
}

TEST(TagCache, ResolvingAgainMovesTheTagAndRestartsItsTtl) {
  TagCache cache(1min);
  const auto t0 = TagCache::Clock::time_point{} + 1h;
  cache.put("app", "latest", digest_of("a"), t0);
  cache.put("app", "latest", digest_of("b"), t0 + 2min);
  auto e = cache.find("app", "latest", t0 + 2min + 30s);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->fresh);
  EXPECT_EQ(e->digest, digest_of("b"));
}

TEST(TagCache, RepositoriesDoNotShareTags) {
  TagCache cache(1min);
  const auto t0 = TagCache::Clock::time_point{} + 1h;
  cache.put("team/app", "v1", digest_of("a"), t0);
  EXPECT_FALSE(cache.find("team/other", "v1", t0));
  EXPECT_FALSE(cache.find("team", "app:v1", t0));
}

TEST(TagCache, AZeroTtlAlwaysAsksAgain) {
  TagCache cache(0ms);
  const auto t0 = TagCache::Clock::time_point{} + 1h;
  cache.put("app", "v1", digest_of("a"), t0);
  auto e = cache.find("app", "v1", t0);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->fresh);
}

}  // namespace
}  // namespace shoal::storage
