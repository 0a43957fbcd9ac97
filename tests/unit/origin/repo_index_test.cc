#include "origin/repo_index.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

std::vector<std::string> page_of(const RepoIndex& r, std::string_view last, size_t limit,
                                 bool more) {
  auto page = r.tags("app", last, limit);
  EXPECT_EQ(page.more, more) << "last=" << last << " limit=" << limit;
  return page.tags;
}

using Tags = std::vector<std::string>;

class RepoIndexTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(repos.init()); }
  test::TempDir dir;
  RepoIndex repos{dir.path() / "repositories"};
};

TEST_F(RepoIndexTest, ManifestsBelongToTheirRepository) {
  const Digest d = digest_of("manifest");
  EXPECT_FALSE(repos.exists("library/ubuntu"));
  EXPECT_FALSE(repos.has_manifest("library/ubuntu", d));
  ASSERT_TRUE(repos.add_manifest("library/ubuntu", d));
  EXPECT_TRUE(repos.exists("library/ubuntu"));
  EXPECT_TRUE(repos.has_manifest("library/ubuntu", d));
  EXPECT_FALSE(repos.has_manifest("library/ubuntu", digest_of("other")));
  EXPECT_FALSE(repos.has_manifest("library/debian", d));
  ASSERT_TRUE(repos.add_manifest("library/ubuntu", d));  // again: no change
  EXPECT_TRUE(repos.has_manifest("library/ubuntu", d));
}

TEST_F(RepoIndexTest, ParentOfARepositoryIsNotOne) {
  ASSERT_TRUE(repos.add_manifest("library/ubuntu", digest_of("m")));
  EXPECT_FALSE(repos.exists("library"));
  EXPECT_TRUE(repos.tags("library", "", SIZE_MAX).tags.empty());
}

TEST_F(RepoIndexTest, TagsInLexicalOrder) {
  ASSERT_TRUE(repos.add_manifest("app", digest_of("m")));
  for (const char* t : {"v2", "latest", "V1", "v10", "_x", "v1"})
    ASSERT_TRUE(repos.add_tag("app", t));
  ASSERT_TRUE(repos.add_tag("app", "v1"));  // again: listed once
  ASSERT_TRUE(repos.add_tag("other", "zzz"));
  EXPECT_EQ(page_of(repos, "", SIZE_MAX, false), (Tags{"V1", "_x", "latest", "v1", "v10", "v2"}));
  EXPECT_TRUE(repos.tags("missing", "", SIZE_MAX).tags.empty());
}

TEST_F(RepoIndexTest, Pagination) {
  ASSERT_TRUE(repos.add_manifest("app", digest_of("m")));
  for (const char* t : {"a", "b", "c", "d"}) ASSERT_TRUE(repos.add_tag("app", t));
  EXPECT_EQ(page_of(repos, "", 2, true), (Tags{"a", "b"}));
  EXPECT_EQ(page_of(repos, "b", 2, false), (Tags{"c", "d"}));
  EXPECT_EQ(page_of(repos, "b", 1, true), (Tags{"c"}));
  EXPECT_EQ(page_of(repos, "", 4, false), (Tags{"a", "b", "c", "d"}));
  EXPECT_EQ(page_of(repos, "d", 2, false), Tags{});
  EXPECT_EQ(page_of(repos, "bb", 10, false), (Tags{"c", "d"}));  // `last` need not be a tag
  EXPECT_EQ(page_of(repos, "", 0, true), Tags{});
}

TEST_F(RepoIndexTest, RemoveTag) {
  ASSERT_TRUE(repos.add_manifest("app", digest_of("m")));
  ASSERT_TRUE(repos.add_tag("app", "a"));
  ASSERT_TRUE(repos.add_tag("app", "b"));
  ASSERT_TRUE(repos.remove_tag("app", "a"));
  EXPECT_EQ(page_of(repos, "", SIZE_MAX, false), Tags{"b"});
  auto again = repos.remove_tag("app", "a");
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::not_found));
  auto never = repos.remove_tag("nothing", "a");
  ASSERT_FALSE(never);
  EXPECT_TRUE(never.error().is(Errc::not_found));
  EXPECT_TRUE(repos.exists("app"));  // a repository outlives its tags
}

TEST_F(RepoIndexTest, SurvivesARestart) {
  const Digest d = digest_of("m");
  ASSERT_TRUE(repos.add_manifest("team/app", d));
  ASSERT_TRUE(repos.add_tag("team/app", "v1"));
  RepoIndex again(dir.path() / "repositories");
  ASSERT_TRUE(again.init());
  EXPECT_TRUE(again.exists("team/app"));
  EXPECT_TRUE(again.has_manifest("team/app", d));
  EXPECT_EQ(again.tags("team/app", "", SIZE_MAX).tags, Tags{"v1"});
}

TEST_F(RepoIndexTest, ARemovedManifestLeavesItsRepositoryListing) {
  const Digest a = digest_of("a"), b = digest_of("b");
  ASSERT_TRUE(repos.add_manifest("team/app", a));
  ASSERT_TRUE(repos.add_manifest("team/app", b));
  ASSERT_TRUE(repos.add_manifest("base", a));
  ASSERT_TRUE(repos.remove_manifest("team/app", a));
  EXPECT_TRUE(repos.remove_manifest("team/app", a).error().is(Errc::not_found));
  EXPECT_FALSE(repos.has_manifest("team/app", a));
  EXPECT_EQ(repos.manifests("team/app"), std::vector<Digest>{b});
  auto names = repos.names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"base", "team/app"}));  // "team" has no manifest
}

TEST_F(RepoIndexTest, ReferrersAreListedUnderTheirSubject) {
  const Digest subject = digest_of("image"), sig = digest_of("signature"), sbom = digest_of("sbom");
  EXPECT_TRUE(repos.referrers("app", subject).empty());
  ASSERT_TRUE(repos.add_referrer("app", subject, sig));
  ASSERT_TRUE(repos.add_referrer("app", subject, sbom));
  auto found = repos.referrers("app", subject);
  std::sort(found.begin(), found.end());
  auto want = std::vector<Digest>{sig, sbom};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(found, want);
  EXPECT_TRUE(repos.referrers("other", subject).empty());
  ASSERT_TRUE(repos.remove_referrer("app", subject, sig));
  EXPECT_EQ(repos.referrers("app", subject), std::vector<Digest>{sbom});
}

}  // namespace
}  // namespace shoal::origin
