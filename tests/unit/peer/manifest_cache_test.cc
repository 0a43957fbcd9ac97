#include "peer/manifest_cache.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

// 10 bytes each: a 4-byte type and a 6-byte body.
CachedManifest manifest(char c) { return {"type", std::string(6, c)}; }

TEST(ManifestCache, GetReturnsWhatWasPut) {
  ManifestCache cache(100);
  EXPECT_FALSE(cache.get("a@x"));
  cache.put("a@x", {"application/vnd.oci.image.manifest.v1+json", "{}"});
  auto got = cache.get("a@x");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->media_type, "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(got->body, "{}");
  EXPECT_FALSE(cache.get("b@x"));
  EXPECT_EQ(cache.bytes(), 44u);
}

TEST(ManifestCache, EvictsOldestPastTheBudget) {
  ManifestCache cache(30);
  cache.put("1", manifest('1'));
  cache.put("2", manifest('2'));
  cache.put("3", manifest('3'));
  EXPECT_EQ(cache.bytes(), 30u);
  (void)cache.get("1");  // reads do not refresh: eviction is by insertion order
  cache.put("4", manifest('4'));
  EXPECT_FALSE(cache.get("1"));
  EXPECT_TRUE(cache.get("2"));
  EXPECT_TRUE(cache.get("4"));
  EXPECT_EQ(cache.bytes(), 30u);
  cache.put("big", {"type", std::string(16, 'b')});  // 20 bytes: two must go
  EXPECT_FALSE(cache.get("2"));
  EXPECT_FALSE(cache.get("3"));
  EXPECT_TRUE(cache.get("4"));
  EXPECT_TRUE(cache.get("big"));
  EXPECT_EQ(cache.bytes(), 30u);
}

TEST(ManifestCache, EntryBiggerThanBudgetIsNotKept) {
  ManifestCache cache(30);
  cache.put("1", manifest('1'));
  cache.put("huge", {"type", std::string(27, 'h')});
  EXPECT_FALSE(cache.get("huge"));
  EXPECT_TRUE(cache.get("1"));  // nothing was evicted for it
  EXPECT_EQ(cache.bytes(), 10u);
  cache.put("exact", {"type", std::string(26, 'e')});  // exactly the budget fits
  EXPECT_TRUE(cache.get("exact"));
  EXPECT_FALSE(cache.get("1"));
  EXPECT_EQ(cache.bytes(), 30u);
}

TEST(ManifestCache, DuplicatePutKeepsTheFirst) {
  ManifestCache cache(100);
  cache.put("k", manifest('1'));
  cache.put("k", {"other", "changed body"});
  EXPECT_EQ(cache.get("k")->body, std::string(6, '1'));
  EXPECT_EQ(cache.bytes(), 10u);
  // The key is in the eviction order once: filling the budget evicts it once.
  for (char c : std::string("abcdefghij")) cache.put(std::string(1, c), manifest(c));
  EXPECT_FALSE(cache.get("k"));
  EXPECT_TRUE(cache.get("a"));
  EXPECT_EQ(cache.bytes(), 100u);
}

}  // namespace
}  // namespace shoal::peer
