#include "storage/registry_client.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::storage {
namespace {

using namespace std::chrono_literals;

TEST(RegistryManifestDigest, TheBytesMustHashToTheDigestAskedFor) {
  const std::string body = R"({"schemaVersion":2})";
  const Digest actual = Sha256::of(body.data(), body.size());
  auto ok = verified_manifest_digest(body, actual.str(), "");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, actual);
  const std::string other = Sha256::of("x", 1).str();
  auto bad = verified_manifest_digest(body, other, actual.str());
  ASSERT_FALSE(bad);  // the header agreeing with the bytes does not matter: the ref does
  EXPECT_TRUE(bad.error().is(Errc::digest_mismatch));
}

TEST(RegistryManifestDigest, ByTagTheRegistrysDigestHeaderMustAgree) {
  const std::string body = R"({"schemaVersion":2})";
  const Digest actual = Sha256::of(body.data(), body.size());
  EXPECT_TRUE(verified_manifest_digest(body, "latest", actual.str()));
  EXPECT_TRUE(verified_manifest_digest(body, "latest", ""));  // no header: nothing to compare
  auto bad = verified_manifest_digest(body, "latest", Sha256::of("x", 1).str());
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::digest_mismatch));
  EXPECT_NE(bad.error().message.find(actual.str()), std::string::npos);
}

TEST(RegistryUrls, AnAbsoluteUrlSplitsIntoBaseAndTarget) {
  auto s = split_absolute_url("https://s3.example.com:9000/bucket/blob?X-Amz-Signature=a%2Fb&x=1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first.host, "s3.example.com");
  EXPECT_EQ(s->first.port, 9000);
  EXPECT_TRUE(s->first.tls());
  EXPECT_EQ(s->second, "/bucket/blob?X-Amz-Signature=a%2Fb&x=1");
  s = split_absolute_url("http://auth.local?service=x");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->second, "/?service=x");
  s = split_absolute_url("http://auth.local");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->second, "/");
  EXPECT_FALSE(split_absolute_url("/relative/path"));
  EXPECT_FALSE(split_absolute_url("gopher://x/"));
}

TEST(RegistryAuth, ATokenIsUsedForItsScopeUntilItExpires) {
  RegistryAuth auth(std::nullopt);
  const auto t0 = RegistryAuth::Clock::now();
  EXPECT_EQ(auth.header_for("repository:a:pull", t0), "");
  auth.remember_token("repository:a:pull", "tok", t0 + 60s);
  EXPECT_EQ(auth.header_for("repository:a:pull", t0 + 59s), "Bearer tok");
  EXPECT_EQ(auth.header_for("repository:b:pull", t0), "");
  EXPECT_EQ(auth.header_for("repository:a:pull", t0 + 60s), "");
}

TEST(RegistryAuth, BasicIsSentOnceTheRegistryAskedForIt) {
  RegistryAuth auth(Credentials{"u", "p"});
  const auto t0 = RegistryAuth::Clock::now();
  EXPECT_EQ(auth.header_for("repository:a:pull", t0), "");
  auth.remember_basic();
  EXPECT_EQ(auth.header_for("repository:a:pull", t0), "Basic dTpw");
}

}  // namespace
}  // namespace shoal::storage
