#include "core/store/blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<BlobStore> open_store(const fs::path& root) {
  auto s = BlobStore::open(root);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return std::move(*s);
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

TEST(BlobStore, CommitMakesBlobVisibleUnderItsDigest) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  std::string data = "hello, shoal";
  Digest d = Sha256::of(data.data(), data.size());
  auto temp = store->create_temp();
  ASSERT_TRUE(temp.ok());
  ASSERT_TRUE(temp->append(data.data(), 5).ok());
  ASSERT_TRUE(temp->append(data.data() + 5, data.size() - 5).ok());
  EXPECT_FALSE(store->contains(d));
  auto c = store->commit(*temp, d);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, BlobStore::Committed::created);
  EXPECT_TRUE(store->contains(d));
  EXPECT_EQ(store->blob_count(), 1u);
  EXPECT_EQ(store->total_bytes(), data.size());
  auto f = store->open_blob(d);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size, data.size());
  EXPECT_EQ(store->path_of(d),
            (dir.path() / "blobs/sha256" / d.hex().substr(0, 2) / d.hex()).string());
}

TEST(BlobStore, MismatchNeverExposesAndLeavesNoTemp) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  Digest claimed = Sha256::of("other", 5);
  {
    auto temp = store->create_temp();
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE(temp->append("abc", 3).ok());
    auto c = store->commit(*temp, claimed);
    ASSERT_FALSE(c.ok());
    EXPECT_TRUE(c.error().is(Errc::digest_mismatch));
  }
  EXPECT_FALSE(store->contains(claimed));
  EXPECT_EQ(files_in(dir.path() / "tmp"), 0u);
  EXPECT_EQ(files_in(dir.path() / "blobs"), 0u);
}

TEST(BlobStore, CrashBetweenWriteAndRenameExposesNothing) {
  test::TempDir dir;
  Digest d = Sha256::of("abc", 3);
  {
    auto store = open_store(dir.path());
    auto temp = store->create_temp();
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE(temp->append("abc", 3).ok());
    // Simulate the process dying before commit: the temp file stays on disk.
    std::string leftover = temp->path();
    fs::copy_file(leftover, leftover + ".copy");
    EXPECT_FALSE(store->contains(d));
  }
  EXPECT_GT(files_in(dir.path() / "tmp"), 0u);
  auto reopened = open_store(dir.path());
  EXPECT_FALSE(reopened->contains(d));
  EXPECT_EQ(files_in(dir.path() / "tmp"), 0u);  // start-up cleaned it
  EXPECT_EQ(reopened->blob_count(), 0u);
}

TEST(BlobStore, SecondCommitOfSameDigestIsAlreadyPresent) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  Digest d = Sha256::of("abc", 3);
  for (auto expected : {BlobStore::Committed::created, BlobStore::Committed::already_present}) {
    auto temp = store->create_temp();
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE(temp->append("abc", 3).ok());
    auto c = store->commit(*temp, d);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(*c, expected);
  }
  EXPECT_EQ(store->blob_count(), 1u);
  EXPECT_EQ(files_in(dir.path() / "tmp"), 0u);
}

TEST(BlobStore, ReopenCountsExistingBlobs) {
  test::TempDir dir;
  Digest d = Sha256::of("abcdef", 6);
  {
    auto store = open_store(dir.path());
    auto temp = store->create_temp();
    ASSERT_TRUE(temp->append("abcdef", 6).ok());
    ASSERT_TRUE(store->commit(*temp, d).ok());
  }
  auto store = open_store(dir.path());
  EXPECT_EQ(store->blob_count(), 1u);
  EXPECT_EQ(store->total_bytes(), 6u);
  ASSERT_TRUE(store->remove(d).ok());
  EXPECT_FALSE(store->contains(d));
  EXPECT_EQ(store->total_bytes(), 0u);
  EXPECT_TRUE(store->remove(d).error().is(Errc::not_found));
}

TEST(BlobStore, AdoptMovesVerifiedFileIn) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  fs::path outside = dir.path() / "upload-data";
  std::ofstream(outside) << "xyz";
  Digest d = Sha256::of("xyz", 3);
  auto c = store->adopt(outside.string(), d);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(store->contains(d));
  EXPECT_FALSE(fs::exists(outside));
}

TEST(BlobStore, UnknownBlobIsNotFound) {
  test::TempDir dir;
  auto store = open_store(dir.path());
  auto f = store->open_blob(Sha256::of("nope", 4));
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.error().is(Errc::not_found));
}

}  // namespace
}  // namespace shoal
