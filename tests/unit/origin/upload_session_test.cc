#include "origin/upload_session.h"

#include <gtest/gtest.h>

#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;

TEST(UploadState, AcceptsOnlyChunksAtTheOffset) {
  UploadState st{100, Clock::time_point{}, false};
  EXPECT_TRUE(st.accepts(std::nullopt));
  EXPECT_TRUE(st.accepts(http::ByteRange{100, 199}));
  EXPECT_FALSE(st.accepts(http::ByteRange{99, 199}));   // overlap
  EXPECT_FALSE(st.accepts(http::ByteRange{101, 199}));  // gap
  EXPECT_FALSE(st.accepts(http::ByteRange{0, 99}));     // rewrite
}

TEST(UploadState, IdleOnlyWhenNotBusyAndPastTimeout) {
  Clock::time_point t0{};
  UploadState st{0, t0, false};
  EXPECT_FALSE(st.idle(t0 + 9s, 10s));
  EXPECT_TRUE(st.idle(t0 + 10s, 10s));
  st.busy = true;
  EXPECT_FALSE(st.idle(t0 + 1h, 10s));
}

class UploadManagerTest : public ::testing::Test {
 protected:
  test::TempDir dir;
  Clock::time_point t0 = Clock::now();
  UploadManager uploads{dir.path() / "uploads", 1000, 10s};
  void SetUp() override { ASSERT_TRUE(uploads.load(t0).ok()); }
};

TEST_F(UploadManagerTest, AppendsInOrderAndCommits) {
  auto store = BlobStore::open(dir.path());
  ASSERT_TRUE(store.ok());
  auto id = uploads.create(t0);
  ASSERT_TRUE(id.ok());
  {
    auto lease = uploads.acquire(*id, http::ByteRange{0, 2}, t0);
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(lease->append("abc", 3).ok());
  }
  EXPECT_EQ(*uploads.offset(*id, t0), 3u);
  auto bad = uploads.acquire(*id, http::ByteRange{0, 2}, t0);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(Errc::range_not_satisfiable));

  auto lease = uploads.acquire(*id, http::ByteRange{3, 5}, t0);
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(uploads.acquire(*id, std::nullopt, t0).error().is(Errc::conflict));
  ASSERT_TRUE(lease->append("def", 3).ok());
  Digest d = Sha256::of("abcdef", 6);
  auto placed = uploads.commit(*lease, d, **store);
  ASSERT_TRUE(placed.ok()) << placed.error().message;
  EXPECT_TRUE((*store)->contains(d));
  EXPECT_EQ(uploads.count(), 0u);
}

TEST_F(UploadManagerTest, WrongDigestRemovesSession) {
  auto store = BlobStore::open(dir.path());
  auto id = uploads.create(t0);
  auto lease = uploads.acquire(*id, std::nullopt, t0);
  ASSERT_TRUE(lease->append("abc", 3).ok());
  auto placed = uploads.commit(*lease, Sha256::of("xyz", 3), **store);
  ASSERT_FALSE(placed.ok());
  EXPECT_TRUE(placed.error().is(Errc::digest_mismatch));
  EXPECT_TRUE(uploads.offset(*id, t0).error().is(Errc::not_found));
}

TEST_F(UploadManagerTest, SizeLimitAppliesToTheWholeUpload) {
  auto id = uploads.create(t0);
  auto lease = uploads.acquire(*id, std::nullopt, t0);
  std::string chunk(600, 'x');
  ASSERT_TRUE(lease->append(chunk.data(), chunk.size()).ok());
  EXPECT_TRUE(lease->append(chunk.data(), chunk.size()).error().is(Errc::too_large));
  EXPECT_EQ(lease->offset(), 600u);
}

TEST_F(UploadManagerTest, SweepRemovesIdleSessionsOnly) {
  auto idle = uploads.create(t0);
  auto active = uploads.create(t0);
  ASSERT_TRUE(uploads.offset(*active, t0 + 8s).ok());  // touched later
  EXPECT_EQ(uploads.sweep(t0 + 11s), 1u);
  EXPECT_TRUE(uploads.offset(*idle, t0 + 11s).error().is(Errc::not_found));
  EXPECT_TRUE(uploads.offset(*active, t0 + 11s).ok());
}

TEST_F(UploadManagerTest, SessionsSurviveRestartAndRehashAtCommit) {
  auto id = uploads.create(t0);
  {
    auto lease = uploads.acquire(*id, std::nullopt, t0);
    ASSERT_TRUE(lease->append("abc", 3).ok());
  }
  UploadManager reopened(dir.path() / "uploads", 1000, 10s);
  ASSERT_TRUE(reopened.load(t0).ok());
  EXPECT_EQ(*reopened.offset(*id, t0), 3u);
  auto store = BlobStore::open(dir.path());
  auto lease = reopened.acquire(*id, http::ByteRange{3, 5}, t0);
  ASSERT_TRUE(lease->append("def", 3).ok());
  auto placed = reopened.commit(*lease, Sha256::of("abcdef", 6), **store);
  ASSERT_TRUE(placed.ok()) << placed.error().message;
}

TEST_F(UploadManagerTest, UnknownAndRemovedSessions) {
  EXPECT_TRUE(uploads.offset("0123456789abcdef0123456789abcdef", t0).error().is(Errc::not_found));
  auto id = uploads.create(t0);
  ASSERT_TRUE(uploads.remove(*id).ok());
  EXPECT_TRUE(uploads.remove(*id).error().is(Errc::not_found));
}

}  // namespace
}  // namespace shoal::origin
