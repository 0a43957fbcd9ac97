#include "http/range.h"

#include <gtest/gtest.h>

namespace shoal::http {
namespace {

using K = RangeDecision::Kind;

TEST(DecideRange, SatisfiableForms) {
  auto r = decide_range("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, K::partial);
  EXPECT_EQ(r.range, (ByteRange{0, 99}));
  r = decide_range("bytes=900-", 1000);
  EXPECT_EQ(r.range, (ByteRange{900, 999}));
  r = decide_range("bytes=-100", 1000);
  EXPECT_EQ(r.range, (ByteRange{900, 999}));
  r = decide_range("bytes=-5000", 1000);  // suffix longer than the blob: all of it
  EXPECT_EQ(r.range, (ByteRange{0, 999}));
  r = decide_range("bytes=990-5000", 1000);  // last clamps to the end
  EXPECT_EQ(r.range, (ByteRange{990, 999}));
  r = decide_range("bytes= 5 - 9 ", 1000);
  EXPECT_EQ(r.range, (ByteRange{5, 9}));
}

TEST(DecideRange, Unsatisfiable) {
  EXPECT_EQ(decide_range("bytes=1000-", 1000).kind, K::unsatisfiable);
  EXPECT_EQ(decide_range("bytes=1000-1001", 1000).kind, K::unsatisfiable);
  EXPECT_EQ(decide_range("bytes=-0", 1000).kind, K::unsatisfiable);
  EXPECT_EQ(decide_range("bytes=0-", 0).kind, K::unsatisfiable);
}

TEST(DecideRange, IgnoredHeadersServeWhole) {
  for (const char* h : {"", "bytes", "bytes=", "bytes=-", "items=0-1", "bytes=5-1", "bytes=0-1,5-9",
                        "bytes=a-b", "bytes=1-2-3", "bytes=+1-2", "bytes=18446744073709551616-",
                        "bytes=0x10-"}) {
    EXPECT_EQ(decide_range(h, 1000).kind, K::whole) << h;
  }
}

TEST(ContentRange, AcceptedForms) {
  EXPECT_EQ(parse_content_range("bytes 0-1023/*"), (ContentRange{{0, 1023}, std::nullopt}));
  EXPECT_EQ(parse_content_range("bytes 10-19/100"), (ContentRange{{10, 19}, 100}));
  EXPECT_EQ(parse_content_range("0-9"), (ContentRange{{0, 9}, std::nullopt}));
  EXPECT_EQ(parse_content_range(" bytes 99-99/100 "), (ContentRange{{99, 99}, 100}));
}

// What a resumed fill checks of a 206: where the bytes start and the whole size.
TEST(ContentRange, ResponseFormGivesFirstAndTotal) {
  auto r = parse_content_range("bytes 1048576-2097151/2097152");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 1048576u);
  EXPECT_EQ(r->length(), 1048576u);
  EXPECT_EQ(r->total, 2097152u);
  r = parse_content_range("bytes 0-18446744073709551614/18446744073709551615");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->total, 18446744073709551615u);
}

TEST(ContentRange, Malformed) {
  for (const char* h : {"", "bytes", "bytes 0-9", "bytes 0-9/x", "9-0", "a-b", "-5", "5-",
                        "bytes */100", "0-99999999999999999999",
                        "bytes 0-4/3", "bytes 0-3/3", "bytes -1-5/10", "bytes 0-5/+10",
                        "bytes 0-5/10/20", "bytes 0-5 /10", "bytes 0x1-5/10", "bytes 0-5/*1",
                        "bytes 0-5/18446744073709551616"}) {
    EXPECT_FALSE(parse_content_range(h).has_value()) << h;
  }
}

}  // namespace
}  // namespace shoal::http
