#include "tracker/bencode.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::tracker::bencode {
namespace {

TEST(Bencode, EncodesCanonically) {
  EXPECT_EQ(encode(Value(42)), "i42e");
  EXPECT_EQ(encode(Value(-7)), "i-7e");
  EXPECT_EQ(encode(Value(0)), "i0e");
  EXPECT_EQ(encode(Value("spam")), "4:spam");
  EXPECT_EQ(encode(Value("")), "0:");
  EXPECT_EQ(encode(Value(List{"a", 1})), "l1:ai1ee");
  // Keys come out sorted by raw bytes whatever the insertion order.
  Dict d;
  d.emplace("zeta", 1);
  d.emplace("alpha", "x");
  d.emplace("min interval", 2);
  EXPECT_EQ(encode(Value(d)), "d5:alpha1:x12:min intervali2e4:zetai1ee");
}

TEST(Bencode, RoundTripsNestedValuesAndBinary) {
  std::string binary("\x00\xff:e\x01", 5);
  Value v(Dict{{"files", Dict{{binary, Dict{{"complete", 3}, {"incomplete", 0}}}}},
               {"list", List{List{}, Dict{}, int64_t{-9223372036854775807LL - 1}}},
               {"max", int64_t{9223372036854775807LL}}});
  auto encoded = encode(v);
  auto decoded = decode(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, v);
  EXPECT_EQ(encode(*decoded), encoded);
  ASSERT_NE(decoded->find("max"), nullptr);
  EXPECT_EQ(decoded->find("max")->as_int(), 9223372036854775807LL);
  EXPECT_EQ(decoded->find("absent"), nullptr);
}

TEST(Bencode, RejectsMalformedInput) {
  for (const char* bad : {
           "",              // nothing
           "i42",           // unterminated
           "ie",            // empty integer
           "i-e",           // sign only
           "i-0e",          // negative zero
           "i03e",          // leading zero
           "i-03e",         // leading zero after sign
           "i+3e",          // plus sign
           "i1.5e",         // not an integer
           "i9223372036854775808e",  // over int64
           "4:abc",         // string longer than input
           "03:abc",        // leading zero in length
           "-1:a",          // negative length
           "3abc",          // no colon
           "l",             // unterminated list
           "li1e",          // unterminated list
           "d",             // unterminated dict
           "d1:ai1e",       // unterminated dict
           "di1ei2ee",      // integer key
           "d1:bi1e1:ai2ee",  // unsorted keys
           "d1:ai1e1:ai2ee",  // duplicate key
           "d1:ae",         // key without value
           "i1ei2e",        // trailing data
           "x",             // unknown type
           "18446744073709551616:x",  // length overflows
       }) {
    auto r = decode(std::string_view(bad));
    EXPECT_FALSE(r.ok()) << "accepted " << bad;
  }
}

TEST(Bencode, ErrorsNameTheOffset) {
  auto r = decode("li1ei03ee");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "bencode: number with a leading zero at byte 5");
}

TEST(Bencode, EnforcesDepthAndSizeLimits) {
  std::string deep(40, 'l');
  deep += std::string(40, 'e');
  EXPECT_FALSE(decode(deep).ok());
  DecodeLimits generous;
  generous.max_depth = 64;
  EXPECT_TRUE(decode(deep, generous).ok());
  // Deep enough to overflow a recursive decoder's stack if depth were unchecked.
  std::string very_deep(1'000'000, 'l');
  EXPECT_FALSE(decode(very_deep).ok());

  DecodeLimits small;
  small.max_size = 8;
  auto r = decode("9:123456789", small);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(Errc::too_large));
}

TEST(Bencode, AcceptsEmbeddedNulAndHighBytes) {
  std::string in("5:\x00\x01\x02\xfe\xff", 7);
  auto r = decode(in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_string(), std::string("\x00\x01\x02\xfe\xff", 5));
}

}  // namespace
}  // namespace shoal::tracker::bencode
