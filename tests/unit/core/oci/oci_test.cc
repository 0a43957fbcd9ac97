#include "core/oci/oci.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace shoal::oci {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(OciNames, Valid) {
  for (const char* n : {"a", "library/ubuntu", "a-b", "a--b", "a__b", "a_b", "a.b/c_d", "0",
                        "a/b/c/d", "blobs", "x/manifests/tags"}) {
    EXPECT_TRUE(valid_name(n)) << n;
  }
  EXPECT_TRUE(valid_name(std::string(255, 'a')));
}

TEST(OciNames, Invalid) {
  for (const char* n : {"", "A", "library/Ubuntu", "a/", "/a", "a//b", "a___b", "a..b", "a._b",
                        "-a", "a-", "_a", "a_", ".a", "a.", "..", ".", "../x", "a/../b", "a/./b",
                        "a b", "a:b", "a\\b", "a@b", "a/-b"}) {
    EXPECT_FALSE(valid_name(n)) << n;
  }
  EXPECT_FALSE(valid_name(std::string(256, 'a')));
  EXPECT_FALSE(valid_name(std::string_view("a\0b", 3)));
}

TEST(OciTags, Grammar) {
  for (const char* t : {"latest", "v1.2.3", "_x", "A-b_c.d", "0"}) EXPECT_TRUE(valid_tag(t)) << t;
  for (const char* t : {"", ".x", "-x", "a/b", "a:b", "a b", "a@b", "a+b"})
    EXPECT_FALSE(valid_tag(t)) << t;
  EXPECT_TRUE(valid_tag(std::string(128, 'v')));
  EXPECT_FALSE(valid_tag(std::string(129, 'v')));
}

TEST(OciReferences, DigestHasColon) {
  EXPECT_TRUE(is_digest_reference(kDigest));
  EXPECT_FALSE(is_digest_reference("latest"));
}

void expect_route(std::string_view path, Endpoint endpoint, std::string_view name,
                  std::string_view arg) {
  auto r = parse_route(path);
  ASSERT_TRUE(r) << path;
  EXPECT_EQ(r->endpoint, endpoint) << path;
  EXPECT_EQ(r->name, name) << path;
  EXPECT_EQ(r->arg, arg) << path;
}

TEST(OciRoutes, Endpoints) {
  expect_route("/v2/", Endpoint::base, "", "");
  expect_route("/v2", Endpoint::base, "", "");
  expect_route("/v2/a/b/manifests/latest", Endpoint::manifest, "a/b", "latest");
  expect_route("/v2/a/manifests/" + kDigest, Endpoint::manifest, "a", kDigest);
  expect_route("/v2/x/blobs/" + kDigest, Endpoint::blob, "x", kDigest);
  expect_route("/v2/x/blobs/uploads/", Endpoint::upload_new, "x", "");
  expect_route("/v2/x/blobs/uploads", Endpoint::upload_new, "x", "");
  expect_route("/v2/x/blobs/uploads/0123abcd", Endpoint::upload, "x", "0123abcd");
  expect_route("/v2/x/tags/list", Endpoint::tags, "x", "");
  expect_route("/v2/x/referrers/" + kDigest, Endpoint::referrers, "x", kDigest);
}

TEST(OciRoutes, NamesMayHoldRouteWords) {
  expect_route("/v2/blobs/blobs/" + kDigest, Endpoint::blob, "blobs", kDigest);
  expect_route("/v2/manifests/manifests/latest", Endpoint::manifest, "manifests", "latest");
  expect_route("/v2/tags/tags/list", Endpoint::tags, "tags", "");
  expect_route("/v2/a/blobs/x/manifests/v1", Endpoint::manifest, "a/blobs/x", "v1");
  expect_route("/v2/a/manifests/x/blobs/" + kDigest, Endpoint::blob, "a/manifests/x", kDigest);
  expect_route("/v2/a/blobs/uploads/x/blobs/uploads/", Endpoint::upload_new, "a/blobs/uploads/x",
               "");
  expect_route("/v2/a/blobs/uploads/blobs/" + kDigest, Endpoint::blob, "a/blobs/uploads", kDigest);
}

TEST(OciRoutes, Rejected) {
  for (const char* p : {"", "/", "/v2x", "/v3/", "/v3/x/manifests/latest", "v2/x/manifests/latest",
                        "/v2/manifests/x", "/v2/x/manifests/", "/v2/x/manifests/a/b",
                        "/v2/x/blobs/", "/v2/x/referrers/", "/v2/tags/list", "/v2/blobs/uploads/",
                        "/v2/x/tags", "/v2/x/unknown/y", "/v2//manifests/latest", "/v2/x"}) {
    EXPECT_FALSE(parse_route(p)) << p;
  }
}

TEST(OciErrors, SpecDocument) {
  auto doc = nlohmann::json::parse(error_json("NAME_UNKNOWN", "no repository a"));
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["code"], "NAME_UNKNOWN");
  EXPECT_EQ(doc["errors"][0]["message"], "no repository a");
  EXPECT_TRUE(doc["errors"][0]["detail"].is_object());
}

TEST(OciErrors, TranslatesShoalCodes) {
  const std::pair<const char*, const char*> cases[] = {
      {"UPLOAD_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"},      {"DIGEST_MISMATCH", "DIGEST_INVALID"},
      {"TOO_LARGE", "SIZE_INVALID"},                  {"FORBIDDEN", "DENIED"},
      {"METHOD_NOT_ALLOWED", "UNSUPPORTED"},          {"RATE_LIMITED", "TOOMANYREQUESTS"},
      {"RANGE_NOT_SATISFIABLE", "BLOB_UPLOAD_INVALID"}, {"UNAUTHORIZED", "UNAUTHORIZED"},
  };
  for (auto [from, to] : cases) {
    auto doc = nlohmann::json::parse(error_json(from, "m"));
    EXPECT_EQ(doc["errors"][0]["code"], to) << from;
  }
}

TEST(OciErrors, MessageIsEscaped) {
  const std::string message = "say \"hi\"\\ \n\t\x01 end";
  auto doc = nlohmann::json::parse(error_json("MANIFEST_INVALID", message));
  EXPECT_EQ(doc["errors"][0]["message"], message);
}

}  // namespace
}  // namespace shoal::oci
