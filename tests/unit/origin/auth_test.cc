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

TEST(TokenAuth, ChecksBasicPasswords) {
  auto a = TokenAuth::from_tokens({"s3cret", "tok:en"});
  EXPECT_EQ(a.check("Basic dXNlcjpzM2NyZXQ="), V::allowed);      // user:s3cret
  EXPECT_EQ(a.check("basic dXNlcjpzM2NyZXQ="), V::allowed);      // the scheme is case-insensitive
  EXPECT_EQ(a.check("Basic OnMzY3JldA=="), V::allowed);          // :s3cret, the user is not checked
  EXPECT_EQ(a.check("Basic dXNlcjp0b2s6ZW4="), V::allowed);      // user:tok:en, first ':' splits
  EXPECT_EQ(a.check("Basic dXNlcjp3cm9uZw=="), V::wrong);        // user:wrong
  EXPECT_EQ(a.check("Basic dXNlcjpzM2NyZXQK"), V::wrong);        // user:s3cret and a newline
  EXPECT_EQ(a.check("Basic dXNlcjo="), V::missing);              // user: (empty password)
  EXPECT_EQ(a.check("Basic dXNlcnMzY3JldA=="), V::missing);      // users3cret (no colon)
  EXPECT_EQ(a.check("Basic dXNlcjpzM2NyZXQ"), V::missing);       // padding left out
  EXPECT_EQ(a.check("Basic dXNlcjpz!2NyZXQ="), V::missing);      // not base64
  EXPECT_EQ(a.check("Basic ===="), V::missing);
  EXPECT_EQ(a.check("Basic     "), V::missing);
  EXPECT_EQ(a.check("Basic "), V::missing);
  EXPECT_EQ(a.check("Basic " + std::string(8192, 'A')), V::missing);  // too long to decode
  EXPECT_EQ(a.check("Bearer dXNlcjpzM2NyZXQ="), V::wrong);       // Bearer tokens are not decoded
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
