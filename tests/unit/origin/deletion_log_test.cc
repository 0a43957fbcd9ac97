#include "origin/deletion_log.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

TEST(DeletionLog, PagesResumeWhereThePreviousPollStopped) {
  test::TempDir dir;
  DeletionLog log(dir.path() / "deletions");
  const Digest a = digest_of("a"), b = digest_of("b"), c = digest_of("c");
  ASSERT_TRUE(log.append({a, b}));
  ASSERT_TRUE(log.append({c}));
  auto first = log.since(0, 2);
  EXPECT_EQ(first.digests, (std::vector<Digest>{a, b}));
  EXPECT_EQ(first.next, 2u);
  auto second = log.since(first.next, 2);
  EXPECT_EQ(second.digests, std::vector<Digest>{c});
  EXPECT_EQ(second.next, 3u);
  EXPECT_TRUE(log.since(3, 2).digests.empty());
  EXPECT_EQ(log.since(99, 2).next, 3u);
}

TEST(DeletionLog, SurvivesARestartAndDropsATornLine) {
  test::TempDir dir;
  const Digest a = digest_of("a");
  {
    DeletionLog log(dir.path() / "deletions");
    ASSERT_TRUE(log.append({a}));
  }
  std::ofstream(dir.path() / "deletions", std::ios::app) << "sha256:0123";  // a crash mid-line
  DeletionLog reopened(dir.path() / "deletions");
  EXPECT_EQ(reopened.size(), 1u);
  EXPECT_EQ(reopened.since(0, 10).digests, std::vector<Digest>{a});
}

}  // namespace
}  // namespace shoal::origin
