#include "origin/tag_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/sha256.h"
#include "origin/names.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

class TagStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(tags.init()); }
  TagRecord record(std::string_view content, uint64_t version, uint64_t writer = 7) {
    return {digest_of(content), {version, writer}};
  }
  test::TempDir dir;
  TagStore tags{dir.path() / "tags"};
};

TEST_F(TagStoreTest, ANeverWrittenTagReadsAsVersionZeroAndIsUnknown) {
  auto rec = tags.read("release");
  ASSERT_TRUE(rec);
  EXPECT_EQ(*rec, TagRecord{});
  EXPECT_TRUE(tags.get("release").error().is(Errc::not_found));
}

TEST_F(TagStoreTest, AWriteAppliesOnlyOnTheExpectedVersion) {
  auto first = tags.apply("release", record("a", 1), {});
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->applied);
  auto stale = tags.apply("release", record("b", 1, 9), {});  // also expected version 0
  ASSERT_TRUE(stale);
  EXPECT_FALSE(stale->applied);
  EXPECT_EQ(stale->current, record("a", 1));
  auto next = tags.apply("release", record("c", 2), {1, 7});
  ASSERT_TRUE(next && next->applied);
  EXPECT_EQ(*tags.get("release"), digest_of("c"));
  EXPECT_EQ(tags.read("release")->stamp, (TagVersion{2, 7}));
}

TEST_F(TagStoreTest, ADeletionLeavesATombstoneThatKeepsTheVersion) {
  ASSERT_TRUE(tags.apply("release", record("a", 1), {}));
  auto gone = tags.apply("release", TagRecord{std::nullopt, {2, 5}}, {1, 7});
  ASSERT_TRUE(gone && gone->applied);
  EXPECT_TRUE(tags.get("release").error().is(Errc::not_found));
  EXPECT_EQ(tags.read("release")->stamp, (TagVersion{2, 5}));
  // A stale copy elsewhere cannot bring the old value back through a compare-and-swap.
  EXPECT_FALSE(tags.apply("release", record("a", 1), {})->applied);
}

TEST_F(TagStoreTest, WithoutTombstonesADeletionRemovesTheFile) {
  ASSERT_TRUE(tags.apply("release", record("a", 1), {}));
  auto gone = tags.apply("release", TagRecord{std::nullopt, {2, 5}}, {1, 7}, false);
  ASSERT_TRUE(gone && gone->applied);
  EXPECT_EQ(*tags.read("release"), TagRecord{});
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "tags"));
}

TEST_F(TagStoreTest, FilesFromBeforeVersionsReadAsVersionOne) {
  const Digest d = digest_of("old");
  std::ofstream(dir.path() / "tags" / tag_file_name("team/app:v1"))
      << d.str() << "\nteam/app:v1\n";
  auto rec = tags.read("team/app:v1");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->digest, d);
  EXPECT_EQ(rec->stamp, (TagVersion{1, 0}));
  EXPECT_TRUE(tags.apply("team/app:v1", record("new", 2), {1, 0})->applied);
}

TEST_F(TagStoreTest, BadNamesAreRefused) {
  EXPECT_TRUE(tags.read("../x").error().is(Errc::bad_request));
  EXPECT_TRUE(tags.apply("a//b", record("a", 1), {}).error().is(Errc::bad_request));
}

TEST(TagPrecondition, ParsesOneStrongDigestOrStar) {
  const Digest d = digest_of("a");
  auto m = TagPrecondition::parse(" \"" + d.str() + "\" ", "");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->if_match, d);
  EXPECT_TRUE(TagPrecondition::parse("*", "")->if_match_any);
  EXPECT_TRUE(TagPrecondition::parse("", "*")->if_none_match_any);
  for (std::string_view bad : {"W/\"x\"", "sha256:00", "\"sha256:00\"", "\"a\", \"b\""}) {
    EXPECT_TRUE(TagPrecondition::parse(bad, "").error().is(Errc::bad_request)) << bad;
  }
  EXPECT_TRUE(TagPrecondition::parse("", "\"" + d.str() + "\"").error().is(Errc::bad_request));
}

TEST(TagPrecondition, HoldsAgainstTheCurrentRecord) {
  const TagRecord absent, tomb{std::nullopt, {3, 1}}, a{digest_of("a"), {2, 1}};
  TagPrecondition none, match{digest_of("a")}, other{digest_of("b")}, create;
  create.if_none_match_any = true;
  TagPrecondition exists;
  exists.if_match_any = true;
  EXPECT_TRUE(none.holds(absent) && none.holds(a));
  EXPECT_TRUE(match.holds(a));
  EXPECT_FALSE(other.holds(a));
  EXPECT_FALSE(match.holds(absent));
  EXPECT_FALSE(match.holds(tomb));
  EXPECT_TRUE(create.holds(absent) && create.holds(tomb));
  EXPECT_FALSE(create.holds(a));
  EXPECT_TRUE(exists.holds(a));
  EXPECT_FALSE(exists.holds(tomb));
  EXPECT_NE(other.why_not("t", a).find(digest_of("a").str()), std::string::npos);
}

}  // namespace
}  // namespace shoal::origin
