// The pure parts of `shoal get`: splitting a URL, finding the digest a path promises,
// and the load summary's numbers and JSON.
#include <gtest/gtest.h>

#include "cli/get_load.h"
#include "cli/get_target.h"

namespace shoal::cli::get {
namespace {

const std::string kHex(64, 'a');

TEST(GetTarget, SplitsBaseAndPath) {
  auto t = split_url("https://localhost:8443/blobs/sha256:" + kHex + "?x=1#frag");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->base.str(), "https://localhost:8443");
  EXPECT_EQ(t->path, "/blobs/sha256:" + kHex + "?x=1");
  t = split_url("http://[::1]:80");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->base.host, "::1");
  EXPECT_EQ(t->path, "/");
  t = split_url("http://h?q");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/?q");
  EXPECT_FALSE(split_url("ftp://h/x").ok());
  EXPECT_FALSE(split_url("localhost/x").ok());
  EXPECT_FALSE(split_url("http://user@h/x").ok());
}

TEST(GetTarget, DigestOnlyAsLastSegment) {
  std::string d = "sha256:" + kHex;
  EXPECT_EQ(digest_in_path("/blobs/" + d).value().str(), d);
  EXPECT_EQ(digest_in_path("/v2/team/app/blobs/" + d + "?x").value().str(), d);
  EXPECT_FALSE(digest_in_path("/blobs/" + d + "/metainfo"));
  EXPECT_FALSE(digest_in_path("/blobs/sha256:ABC"));  // malformed: the server judges it
  EXPECT_FALSE(digest_in_path("/"));
}

TEST(GetLoad, PercentileIsNearestRank) {
  std::vector<double> v;
  EXPECT_EQ(percentile(v, 0.5), 0);
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(percentile(v, 0.5), 50);
  EXPECT_EQ(percentile(v, 0.9), 90);
  EXPECT_EQ(percentile(v, 0.99), 99);
  EXPECT_EQ(percentile(v, 1.0), 100);
  EXPECT_EQ(percentile({7.0}, 0.01), 7);
}

TEST(GetLoad, SummaryJson) {
  LoadSummary s;
  s.requests = 4;
  s.failures = 1;
  s.bytes = 2 << 20;
  s.seconds = 2;
  s.latencies_ms = {1, 2, 3, 4};
  s.protocol = http::Protocol::http2;
  s.connections = 2;
  s.streams = 8;
  EXPECT_EQ(format_summary_json(s),
            "{\"requests\":4,\"failures\":1,\"bytes\":2097152,\"seconds\":2.000000,"
            "\"requests_per_second\":2.000,\"bytes_per_second\":1048576.0,"
            "\"mib_per_second\":1.000,\"latency_ms\":{\"p50\":2.000,\"p90\":4.000,"
            "\"p99\":4.000,\"max\":4.000},\"protocol\":\"h2\",\"connections\":2,\"streams\":8}");
  EXPECT_NE(format_summary(s).find("requests  4, 1 failed, in 2.000 s"), std::string::npos);
}

}  // namespace
}  // namespace shoal::cli::get
