#include "core/url.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

std::string error_of(std::string_view text) {
  auto r = Url::parse(text);
  return r ? "" : r.error().message;
}

TEST(Url, ParsesHostPortAndDefaults) {
  auto u = Url::parse("http://127.0.0.1:4100");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 4100);
  EXPECT_EQ(u->base_path, "");
  EXPECT_EQ(Url::parse("http://example.com")->port, 80);
  EXPECT_EQ(Url::parse("https://example.com")->port, 443);
  EXPECT_EQ(Url::parse("HTTPS://example.com")->scheme, "https");
}

// `shoal pull` trusts Shoal-Verified only from a server on this host.
TEST(Url, LoopbackOnlyForThisHost) {
  for (const char* u : {"http://127.0.0.1:4300", "http://127.1.2.3", "http://[::1]:80",
                        "http://localhost:4300"}) {
    auto url = Url::parse(u);
    ASSERT_TRUE(url.ok()) << u;
    EXPECT_TRUE(url->loopback()) << u;
  }
  for (const char* u : {"http://10.0.0.1", "http://127.example.com", "http://[::2]",
                        "http://localhost.example.com", "http://agent:4300"}) {
    auto url = Url::parse(u);
    ASSERT_TRUE(url.ok()) << u;
    EXPECT_FALSE(url->loopback()) << u;
  }
}

TEST(Url, BasePathLosesTrailingSlashes) {
  auto u = Url::parse("https://cdn.example.com:8443/shoal/v1//");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->base_path, "/shoal/v1");
  EXPECT_EQ(u->target("/blobs/x"), "/shoal/v1/blobs/x");
  EXPECT_EQ(Url::parse("http://h/")->base_path, "");
  EXPECT_EQ(Url::parse("http://h")->target("/tags/a"), "/tags/a");
}

TEST(Url, Ipv6Literals) {
  auto u = Url::parse("http://[::1]:4100/x");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 4100);
  EXPECT_EQ(u->endpoint(), "[::1]:4100");
  EXPECT_EQ(u->str(), "http://[::1]:4100/x");
  EXPECT_EQ(Url::parse("http://[::1]")->port, 80);
}

TEST(Url, StrLeavesOutDefaultPort) {
  EXPECT_EQ(Url::parse("http://h:80/a/")->str(), "http://h/a");
  EXPECT_EQ(Url::parse("https://h:443")->host_header(), "h");
  EXPECT_EQ(Url::parse("http://h:8080")->str(), "http://h:8080");
  EXPECT_EQ(Url::parse("http://h:8080")->host_header(), "h:8080");
  EXPECT_EQ(Url::parse("http://h")->endpoint(), "h:80");
}

TEST(Url, RejectsWithReasons) {
  EXPECT_NE(error_of("ftp://h").find("scheme must be http or https"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.1:4100").find("expected http://"), std::string::npos);
  EXPECT_NE(error_of("http://").find("missing host"), std::string::npos);
  EXPECT_NE(error_of("http://:4100").find("missing host"), std::string::npos);
  EXPECT_NE(error_of("http://h:0").find("port"), std::string::npos);
  EXPECT_NE(error_of("http://h:65536").find("port"), std::string::npos);
  EXPECT_NE(error_of("http://h:12ab").find("port"), std::string::npos);
  EXPECT_NE(error_of("http://h:").find("port"), std::string::npos);
  EXPECT_NE(error_of("http://u:p@h").find("user info"), std::string::npos);
  EXPECT_NE(error_of("http://h/x?y=1").find("query"), std::string::npos);
  EXPECT_NE(error_of("http://[::1").find("IPv6"), std::string::npos);
  EXPECT_NE(error_of("http://h h").find("invalid character"), std::string::npos);
  EXPECT_NE(error_of("ftp://h").find("\"ftp://h\""), std::string::npos);  // names the input
}

}  // namespace
}  // namespace shoal
