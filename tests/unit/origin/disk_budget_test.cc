#include "origin/disk_budget.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::origin {
namespace {

Digest digest_of(const std::string& content) { return Sha256::of(content.data(), content.size()); }
auto any = [](const Digest&) { return true; };

TEST(DiskBudget, EvictsTheLeastRecentlyUsedUntilWithinTheLimit) {
  DiskBudget b(100);
  const Digest a = digest_of("a"), c = digest_of("c"), d = digest_of("d");
  b.add(a, 40);
  b.add(c, 40);
  b.add(d, 40);
  EXPECT_EQ(b.used(), 120u);
  EXPECT_EQ(b.victims(any), std::vector<Digest>{a});
  b.touch(a);  // read: c is the oldest now
  EXPECT_EQ(b.victims(any), std::vector<Digest>{c});
  b.erase(c);
  EXPECT_EQ(b.used(), 80u);
  EXPECT_TRUE(b.victims(any).empty());
}

TEST(DiskBudget, AVetoedBlobStaysAndTheNextOldestGoesInstead) {
  DiskBudget b(50);
  const Digest a = digest_of("a"), c = digest_of("c"), d = digest_of("d");
  b.add(a, 40);
  b.add(c, 40);
  b.add(d, 40);
  auto not_a = [&](const Digest& x) { return x != a; };  // a is not written back yet
  EXPECT_EQ(b.victims(not_a), (std::vector<Digest>{c, d}));
  auto none = [](const Digest&) { return false; };
  EXPECT_TRUE(b.victims(none).empty());  // over the limit, but nothing may go
  b.add(a, 40);  // known: touched, not counted twice
  EXPECT_EQ(b.used(), 120u);
}

}  // namespace
}  // namespace shoal::origin
