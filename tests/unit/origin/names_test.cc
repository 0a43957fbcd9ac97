#include "origin/names.h"

#include <gtest/gtest.h>

namespace shoal::origin {
namespace {

TEST(TagNames, Valid) {
  for (const char* n : {"release-42", "hls/intro", "team/app:v1.2", "a", "A_b.c-d", "x/y/z:latest",
                        "_private"}) {
    EXPECT_TRUE(valid_tag_name(n)) << n;
  }
}

TEST(TagNames, Invalid) {
  for (const char* n : {"", "..", "../etc", "a/../b", "a//b", "/a", "a/", ".hidden", "a b", "a:b:c",
                        "a:", "a%2Fb", "a\\b", "-x", "a:.v"}) {
    EXPECT_FALSE(valid_tag_name(n)) << n;
  }
  EXPECT_FALSE(valid_tag_name(std::string(256, 'a')));
  EXPECT_TRUE(valid_tag_name(std::string(255, 'a')));
  EXPECT_FALSE(valid_tag_name("a:" + std::string(129, 'v')));
}

TEST(TagNames, FileNameIsOneComponent) {
  EXPECT_EQ(tag_file_name("team/app:v1").size(), 64u);
  EXPECT_EQ(tag_file_name("team/app:v1").find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(tag_file_name("team/app:v1"), tag_file_name("team/app:v2"));
}

TEST(UploadIds, Grammar) {
  EXPECT_TRUE(valid_upload_id("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(valid_upload_id("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(valid_upload_id("../../../../../../../../../etc/pa"));
  EXPECT_FALSE(valid_upload_id(""));
}

}  // namespace
}  // namespace shoal::origin
