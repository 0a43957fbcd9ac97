#include "edge/tiers.h"

#include <gtest/gtest.h>

#include <string>

#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::edge {
namespace {

std::string bytes_of(size_t n, char fill) { return std::string(n, fill); }

Digest fill_disk(DiskTier& tier, const std::string& data) {
  Digest d = Sha256::of(data.data(), data.size());
  auto temp = tier.create_temp();
  EXPECT_TRUE(temp.ok());
  EXPECT_TRUE(temp->append(data.data(), data.size()).ok());
  EXPECT_TRUE(tier.commit(*temp, d).ok());
  return d;
}

TEST(RamTier, KeepsSmallObjectsUnderItsBudget) {
  RamTier ram(1000, 400);
  EXPECT_FALSE(ram.accepts(401));
  std::string a = bytes_of(300, 'a');
  Digest da = Sha256::of(a.data(), a.size());
  ram.put(da, {std::make_shared<const std::string>(a), WallClock::now()});
  auto got = ram.get(da);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got->bytes, a);
  for (char c = 'b'; c < 'k'; ++c) {
    std::string s = bytes_of(300, c);
    ram.put(Sha256::of(s.data(), s.size()),
            {std::make_shared<const std::string>(s), WallClock::now()});
    EXPECT_LE(ram.used_bytes(), 1000u);
  }
  // The bytes a reader holds outlive the eviction of their entry.
  EXPECT_EQ(got->bytes->size(), 300u);
}

TEST(DiskTier, EvictsFilesPastTheBudgetAndSurvivesARestart) {
  test::TempDir dir;
  Digest last = Digest::parse("sha256:" + std::string(64, '0')).value();
  {
    DiskTier disk(dir.path(), 2500);
    for (char c = 'a'; c < 'f'; ++c) last = fill_disk(disk, bytes_of(1000, c));
    EXPECT_LE(disk.used_bytes(), 2500u);
    EXPECT_EQ(disk.count(), 2u);
    ASSERT_TRUE(disk.get(last).has_value());
  }
  DiskTier again(dir.path(), 2500);
  EXPECT_EQ(again.count(), 2u);
  auto hit = again.get(last);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->file.size, 1000u);
  auto rehash = Sha256::of_fd(hit->file.fd.get());
  ASSERT_TRUE(rehash.ok());
  EXPECT_EQ(*rehash, last);
}

TEST(DiskTier, ShrunkBudgetAtRestartEvicts) {
  test::TempDir dir;
  {
    DiskTier disk(dir.path(), 10'000);
    for (char c = 'a'; c < 'e'; ++c) fill_disk(disk, bytes_of(1000, c));
    EXPECT_EQ(disk.count(), 4u);
  }
  DiskTier smaller(dir.path(), 1500);
  EXPECT_LE(smaller.used_bytes(), 1500u);
  EXPECT_LE(smaller.count(), 1u);
}

TEST(DiskTier, WrongBytesAreNeverAdmitted) {
  test::TempDir dir;
  DiskTier disk(dir.path(), 10'000);
  std::string data = bytes_of(100, 'x');
  Digest claimed = Sha256::of("other", 5);
  auto temp = disk.create_temp();
  ASSERT_TRUE(temp.ok());
  ASSERT_TRUE(temp->append(data.data(), data.size()).ok());
  auto r = disk.commit(*temp, claimed);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(Errc::digest_mismatch));
  EXPECT_FALSE(disk.contains(claimed));
  EXPECT_EQ(disk.count(), 0u);
}

TEST(DiskTier, ObjectOverTheWholeBudgetIsVerifiedThenDropped) {
  test::TempDir dir;
  DiskTier disk(dir.path(), 500);
  Digest d = fill_disk(disk, bytes_of(1000, 'z'));
  EXPECT_FALSE(disk.contains(d));
  EXPECT_EQ(disk.used_bytes(), 0u);
}

}  // namespace
}  // namespace shoal::edge
