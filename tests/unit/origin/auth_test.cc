#include "origin/auth.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

using V = TokenAuth::Verdict;

TEST(TokenAuth, DisabledAllowsEverything) {
  TokenAuth none;
  EXPECT_FALSE(none.enabled());
  EXPECT_EQ(none.check(""), V::allowed);
}

TEST(TokenAuth, ChecksBearerTokens) {
  auto a = TokenAuth::from_tokens({"s3cret", "other"});
  EXPECT_EQ(a.check("Bearer s3cret"), V::allowed);
  EXPECT_EQ(a.check("Bearer other"), V::allowed);
  EXPECT_EQ(a.check("bearer other"), V::allowed);  // the scheme is case-insensitive
  EXPECT_EQ(a.check("Bearer OTHER"), V::wrong);    // the token is not
  EXPECT_EQ(a.check("Bearer s3cre"), V::wrong);
  EXPECT_EQ(a.check("Bearer s3cret "), V::wrong);
  EXPECT_EQ(a.check(""), V::missing);
  EXPECT_EQ(a.check("Basic czNjcmV0"), V::missing);
  EXPECT_EQ(a.check("Bearer "), V::missing);
}

TEST(TokenAuth, FileSkipsCommentsAndBlankLines) {
  test::TempDir dir;
  auto path = (dir.path() / "tokens").string();
  std::ofstream(path) << "# writers\n\n  tok-1  \r\ntok-2\n";
  auto a = TokenAuth::from_file(path);
  EXPECT_EQ(a.check("Bearer tok-1"), V::allowed);
  EXPECT_EQ(a.check("Bearer tok-2"), V::allowed);
  EXPECT_EQ(a.check("Bearer # writers"), V::wrong);
}

TEST(TokenAuth, EmptyOrMissingFileFailsAtStartUp) {
  test::TempDir dir;
  auto path = (dir.path() / "tokens").string();
  std::ofstream(path) << "# nothing\n";
  EXPECT_THROW(TokenAuth::from_file(path), std::runtime_error);
  EXPECT_THROW(TokenAuth::from_file(path + ".missing"), std::runtime_error);
}

}  // namespace
}  // namespace shoal::origin
