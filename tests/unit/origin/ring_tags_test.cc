#include "origin/ring_tags.h"

#include <gtest/gtest.h>

#include <functional>
#include <utility>

#include "core/sha256.h"

namespace shoal::origin {
namespace {

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

// An owner's copy in memory; `before_apply` runs once, inside the next apply, to
// let another coordinator act at that very moment.
class MemoryReplica final : public TagReplica {
 public:
  Result<TagRecord> read(std::string_view) override {
    if (down) return Error(Errc::unavailable, "down");
    return rec;
  }
  Result<TagApplied> apply(std::string_view, const TagRecord& r, TagVersion expect) override {
    if (down) return Error(Errc::unavailable, "down");
    if (auto hook = std::exchange(before_apply, nullptr)) hook();
    if (rec.stamp != expect) return TagApplied{false, rec};
    rec = r;
    return TagApplied{true, rec};
  }
  TagRecord rec;
  bool down = false;
  std::function<void()> before_apply;
};

class RingTagsTest : public ::testing::Test {
 protected:
  std::vector<TagReplica*> all() { return {&a, &b, &c}; }
  static TagChange set(std::string_view content, TagPrecondition pre = {}) {
    return {digest_of(content), pre};
  }
  static TagPrecondition if_match(std::string_view content) {
    TagPrecondition p;
    p.if_match = digest_of(content);
    return p;
  }
  void expect_everywhere(std::string_view content) {
    for (MemoryReplica* r : {&a, &b, &c}) EXPECT_EQ(r->rec.digest, digest_of(content));
  }
  MemoryReplica a, b, c;
  uint64_t ids = 100;
  TagCoordinator one{[this] { return ++ids; }};
  TagCoordinator two{[this] { return ++ids; }};
};

TEST_F(RingTagsTest, AWriteReachesEveryOwnerWithTheNextVersion) {
  auto w = one.write("t", set("x"), all(), 2);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->stamp.version, 1u);
  expect_everywhere("x");
  w = one.write("t", set("y"), all(), 2);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->stamp.version, 2u);
  expect_everywhere("y");
}

TEST_F(RingTagsTest, AReadAnswersTheNewestCopyAndRepairsLaggards) {
  ASSERT_TRUE(one.write("t", set("x"), all(), 2));
  c.down = true;
  ASSERT_TRUE(one.write("t", set("y"), all(), 2));
  c.down = false;
  EXPECT_EQ(c.rec.digest, digest_of("x"));
  auto r = one.read("t", {&c, &a});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->digest, digest_of("y"));
  expect_everywhere("y");
}

TEST_F(RingTagsTest, AWriteBringsALaggardUpBeforeWritingOnTop) {
  ASSERT_TRUE(one.write("t", set("x"), all(), 2));
  c.down = true;
  ASSERT_TRUE(one.write("t", set("y"), all(), 2));
  c.down = false;
  auto w = one.write("t", set("z", if_match("y")), all(), 3);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->stamp.version, 3u);
  expect_everywhere("z");
}

TEST_F(RingTagsTest, PreconditionsAreCheckedAgainstTheNewestCopy) {
  ASSERT_TRUE(one.write("t", set("x"), all(), 2));
  EXPECT_TRUE(one.write("t", set("y", if_match("other")), all(), 2)
                  .error()
                  .is(Errc::precondition_failed));
  TagPrecondition create;
  create.if_none_match_any = true;
  EXPECT_TRUE(one.write("t", set("y", create), all(), 2).error().is(Errc::precondition_failed));
  MemoryReplica fresh1, fresh2;  // a tag never written (a replica here holds one tag)
  EXPECT_TRUE(one.write("new", set("y", create), {&fresh1, &fresh2}, 2));
  expect_everywhere("x");
}

TEST_F(RingTagsTest, DeletingLeavesTombstonesAndCreateOnlyWorksAgain) {
  ASSERT_TRUE(one.write("t", set("x"), all(), 2));
  ASSERT_TRUE(one.write("t", TagChange{}, all(), 2));
  EXPECT_FALSE(a.rec.exists());
  EXPECT_EQ(a.rec.stamp.version, 2u);
  EXPECT_TRUE(one.write("t", TagChange{}, all(), 2).error().is(Errc::not_found));
  TagPrecondition create;
  create.if_none_match_any = true;
  auto w = one.write("t", set("y", create), all(), 2);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->stamp.version, 3u);
}

TEST_F(RingTagsTest, OneOwnerDownStillMakesAQuorumTwoDoNot) {
  c.down = true;
  EXPECT_TRUE(one.write("t", set("x"), all(), 2));
  b.down = true;
  auto w = one.write("t", set("y"), all(), 2);
  ASSERT_FALSE(w);
  EXPECT_TRUE(w.error().is(Errc::no_quorum));
  EXPECT_NE(w.error().message.find("write_quorum = 2"), std::string::npos) << w.error().message;
  EXPECT_EQ(one.read("t", all())->digest, digest_of("x"));
}

TEST_F(RingTagsTest, TwoCoordinatorsRacingOnIfMatchExactlyOneWins) {
  ASSERT_TRUE(one.write("t", set("base"), all(), 2));
  // Split views: the second coordinator sees only b and c, and writes between the
  // first's offers to a and to b.
  Result<TagRecord> second = Error(Errc::cancelled, "did not run");
  b.before_apply = [&] { second = two.write("t", set("two", if_match("base")), {&b, &c}, 2); };
  auto first = one.write("t", set("one", if_match("base")), all(), 2);
  ASSERT_TRUE(second);
  ASSERT_FALSE(first);
  EXPECT_TRUE(first.error().is(Errc::precondition_failed)) << first.error().message;
  expect_everywhere("two");  // the loser put the winner's record back on a
}

TEST_F(RingTagsTest, AWriterThatSeesAnotherWriteHalfDoneSeesItsValue) {
  ASSERT_TRUE(one.write("t", set("base"), all(), 2));
  Result<TagRecord> second = Error(Errc::cancelled, "did not run");
  b.before_apply = [&] { second = two.write("t", set("two", if_match("base")), all(), 2); };
  auto first = one.write("t", set("one", if_match("base")), all(), 2);
  ASSERT_TRUE(first);  // a already held it: the second repaired b and c to it
  EXPECT_TRUE(second.error().is(Errc::precondition_failed));
  expect_everywhere("one");
}

TEST_F(RingTagsTest, NoOwnerAnsweringIsUnavailable) {
  a.down = b.down = c.down = true;
  EXPECT_TRUE(one.read("t", all()).error().is(Errc::no_quorum));
}

TEST(NewestRecord, OrdersByVersionThenWriter) {
  const Digest x = digest_of("x"), y = digest_of("y");
  EXPECT_EQ(newest_record({}), TagRecord{});
  EXPECT_EQ(newest_record({{x, {2, 1}}, {y, {1, 9}}}).digest, x);
  EXPECT_EQ(newest_record({{x, {2, 1}}, {y, {2, 3}}}).digest, y);
}

}  // namespace
}  // namespace shoal::origin
