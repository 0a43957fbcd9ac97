#include "storage/www_authenticate.h"

#include <gtest/gtest.h>

namespace shoal::storage {
namespace {

TEST(WwwAuthenticate, ABearerChallengeGivesRealmServiceAndScope) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:library/alpine:pull")");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].param("realm"), "https://auth.example.com/token");
  EXPECT_EQ((*c)[0].param("service"), "registry.example.com");
  EXPECT_EQ((*c)[0].param("scope"), "repository:library/alpine:pull");
}

TEST(WwwAuthenticate, ACommaInsideQuotesDoesNotEndTheValue) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="http://a/token", scope="repository:x/y:pull,push", service="s")");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].param("scope"), "repository:x/y:pull,push");
  EXPECT_EQ((*c)[0].param("service"), "s");
}

TEST(WwwAuthenticate, SchemeAndParameterNamesAreCaseInsensitive) {
  auto c = parse_www_authenticate(R"(BEARER Realm="r", SERVICE=plain)");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].param("realm"), "r");
  EXPECT_EQ((*c)[0].param("service"), "plain");  // a token, unquoted
}

TEST(WwwAuthenticate, EscapedQuotesAreUnescaped) {
  auto c = parse_www_authenticate(R"(Basic realm="say \"hi\", ok")");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)[0].param("realm"), R"(say "hi", ok)");
}

TEST(WwwAuthenticate, SeveralChallengesAreKeptInOrder) {
  auto c = parse_www_authenticate(R"(Basic realm="basic-realm", Bearer realm="https://t/",service="x")");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].param("realm"), "basic-realm");
  EXPECT_EQ((*c)[1].param("service"), "x");
  EXPECT_EQ(find_challenge(*c, "bearer"), &(*c)[1]);
  EXPECT_EQ(find_challenge(*c, "digest"), nullptr);
}

TEST(WwwAuthenticate, ASchemeWithoutParametersIsAChallenge) {
  auto c = parse_www_authenticate("Negotiate");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)[0].scheme, "negotiate");
  EXPECT_TRUE((*c)[0].params.empty());
}

TEST(WwwAuthenticate, MalformedHeadersAreProtocolErrors) {
  for (const char* bad : {"", "  ,  ", R"(Bearer realm="unterminated)", R"(="x")",
                          R"(Bearer realm="a" service="b")", "Bearer realm=\"a\";x"}) {
    auto c = parse_www_authenticate(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_TRUE(c.error().is(Errc::protocol_error)) << bad;
  }
}

}  // namespace
}  // namespace shoal::storage
