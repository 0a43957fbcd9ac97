#include "core/text.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace shoal::text {
namespace {

TEST(ParseUint, TakesDigitsOnly) {
  EXPECT_EQ(parse_uint<uint64_t>("0"), 0u);
  EXPECT_EQ(parse_uint<uint64_t>("42"), 42u);
  EXPECT_EQ(parse_uint<uint64_t>("007"), 7u) << "leading zeros are digits too";
  EXPECT_EQ(parse_uint("18446744073709551615"), std::numeric_limits<uint64_t>::max());
}

TEST(ParseUint, EmptyInputIsNotANumber) {
  EXPECT_EQ(parse_uint<uint64_t>(""), std::nullopt);
  EXPECT_EQ(parse_uint<uint32_t>(""), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("", 16), std::nullopt);
}

TEST(ParseUint, RefusesSigns) {
  EXPECT_EQ(parse_uint<uint64_t>("-1"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("+1"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("-0"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("-"), std::nullopt);
}

TEST(ParseUint, RefusesSpacesAnywhere) {
  EXPECT_EQ(parse_uint<uint64_t>(" 1"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("1 "), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("1 2"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("\t1"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("1\r\n"), std::nullopt);
}

TEST(ParseUint, RefusesTrailingJunk) {
  EXPECT_EQ(parse_uint<uint64_t>("12ab"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("1.5"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("1e3"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>(std::string_view("1\0", 2)), std::nullopt);
}

TEST(ParseUint, RefusesOverflowOfTheType) {
  EXPECT_EQ(parse_uint<uint64_t>("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_uint<uint32_t>("4294967295"), 4294967295u);
  EXPECT_EQ(parse_uint<uint32_t>("4294967296"), std::nullopt);
  EXPECT_EQ(parse_uint<uint16_t>("65535"), 65535u);
  EXPECT_EQ(parse_uint<uint16_t>("65536"), std::nullopt);
  EXPECT_EQ(parse_uint<uint8_t>("256"), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("99999999999999999999999999999999"), std::nullopt);
}

TEST(ParseUint, OtherBases) {
  EXPECT_EQ(parse_uint<uint64_t>("ff", 16), 255u);
  EXPECT_EQ(parse_uint<uint64_t>("FF", 16), 255u) << "either case";
  EXPECT_EQ(parse_uint<uint64_t>("ffffffffffffffff", 16), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_uint<uint64_t>("10000000000000000", 16), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("0x1f", 16), std::nullopt) << "no prefix";
  EXPECT_EQ(parse_uint<uint64_t>("fg", 16), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("101", 2), 5u);
  EXPECT_EQ(parse_uint<uint64_t>("102", 2), std::nullopt);
  EXPECT_EQ(parse_uint<uint64_t>("777", 8), 511u);
  EXPECT_EQ(parse_uint<uint64_t>("ab", 10), std::nullopt);
}

TEST(ParseInt, TakesAnOptionalMinus) {
  EXPECT_EQ(parse_int<int64_t>("0"), 0);
  EXPECT_EQ(parse_int<int64_t>("-0"), 0);
  EXPECT_EQ(parse_int<int64_t>("17"), 17);
  EXPECT_EQ(parse_int<int64_t>("-17"), -17);
  EXPECT_EQ(parse_int<int64_t>("+17"), std::nullopt) << "no plus";
  EXPECT_EQ(parse_int<int64_t>("--1"), std::nullopt);
  EXPECT_EQ(parse_int<int64_t>("-"), std::nullopt);
  EXPECT_EQ(parse_int<int64_t>(""), std::nullopt);
}

TEST(ParseInt, RefusesSpacesJunkAndOverflow) {
  EXPECT_EQ(parse_int<int64_t>(" -1"), std::nullopt);
  EXPECT_EQ(parse_int<int64_t>("- 1"), std::nullopt);
  EXPECT_EQ(parse_int<int64_t>("-1 "), std::nullopt);
  EXPECT_EQ(parse_int<int64_t>("3x"), std::nullopt);
  EXPECT_EQ(parse_int("9223372036854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_int("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(parse_int<int64_t>("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parse_int<int64_t>("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(parse_int<int32_t>("2147483648"), std::nullopt);
  EXPECT_EQ(parse_int<int32_t>("-2147483648"), std::numeric_limits<int32_t>::min());
}

TEST(Trim, RemovesSpacesAndTabsAtBothEnds) {
  EXPECT_EQ(trim("  a b\t "), "a b");
  EXPECT_EQ(trim("\tx"), "x");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Trim, KeepsOtherWhitespace) {
  EXPECT_EQ(trim(" a\r\n"), "a\r\n") << "HTTP's OWS is spaces and tabs only";
  EXPECT_EQ(trim("\na "), "\na");
}

TEST(Trim, AllSpaceOrEmptyGivesEmpty) {
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" "), "");
  EXPECT_EQ(trim(" \t \t"), "");
  EXPECT_EQ(trim(" \r "), "\r");
}

TEST(TrimSpace, RemovesAnyWhitespaceAtBothEnds) {
  EXPECT_EQ(trim_space("  sha256:ab \n"), "sha256:ab");
  EXPECT_EQ(trim_space("\r\n\t\v\fx y\r\n"), "x y");
  EXPECT_EQ(trim_space("x"), "x");
}

TEST(TrimSpace, AllSpaceOrEmptyGivesEmpty) {
  EXPECT_EQ(trim_space(""), "");
  EXPECT_EQ(trim_space(" \n "), "");
  EXPECT_EQ(trim_space("\r\n\t\v\f "), "");
}

TEST(Trim, ReturnsAViewIntoTheInput) {
  std::string_view s = "  abc  ";
  EXPECT_EQ(trim(s).data(), s.data() + 2);
  EXPECT_EQ(trim_space(s).data(), s.data() + 2);
}

TEST(Text, IequalsIgnoresAsciiCaseOnly) {
  EXPECT_TRUE(text::iequals("Bearer", "bEARER"));
  EXPECT_TRUE(text::iequals("", ""));
  EXPECT_FALSE(text::iequals("Bearer", "Bearer "));
  EXPECT_FALSE(text::iequals("basic", "bearer"));
}

}  // namespace
}  // namespace shoal::text
