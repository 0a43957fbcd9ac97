#include "http/util.h"
#include "core/text.h"

#include <gtest/gtest.h>

namespace shoal::http {
namespace {

TEST(HttpUtil, JsonEscape) {
  EXPECT_EQ(text::json_escape("a\"b\\c\nd\x01"), "a\\\"b\\\\c\\nd\\u0001");
  EXPECT_EQ(error_json("X", "say \"hi\""), R"({"error":"X","message":"say \"hi\""})");
}

TEST(HttpUtil, PercentDecode) {
  EXPECT_EQ(text::percent_decode("a%2Fb%3a"), "a/b:");
  EXPECT_EQ(text::percent_decode("a+b"), "a+b");
  EXPECT_EQ(text::percent_decode("a+b", true), "a b");
  EXPECT_FALSE(text::percent_decode("%"));
  EXPECT_FALSE(text::percent_decode("%2"));
  EXPECT_FALSE(text::percent_decode("%zz"));
}

TEST(HttpUtil, SplitRoute) {
  EXPECT_EQ(split_route("/blobs/sha256:ab/metainfo"),
            std::make_pair(std::string_view("blobs"), std::string_view("sha256:ab/metainfo")));
  EXPECT_EQ(split_route("/health"),
            std::make_pair(std::string_view("health"), std::string_view("")));
  EXPECT_EQ(split_route("blobs/x"), std::make_pair(std::string_view(""), std::string_view("")));
  EXPECT_EQ(split_route(""), std::make_pair(std::string_view(""), std::string_view("")));
}

TEST(HttpUtil, QueryParam) {
  EXPECT_EQ(find_query_param("digest=sha256%3Aab&x=1", "digest"), "sha256:ab");
  EXPECT_EQ(find_query_param("x=1&flag", "flag"), "");
  EXPECT_FALSE(find_query_param("x=1", "digest"));
  EXPECT_FALSE(find_query_param("", "digest"));
  EXPECT_FALSE(find_query_param("digest=%zz", "digest"));
}

}  // namespace
}  // namespace shoal::http
