#include "core/oci/manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/oci/oci.h"

namespace shoal::oci {
namespace {

using nlohmann::json;

std::string digest_of(char c) { return "sha256:" + std::string(64, c); }
Digest parsed(char c) { return *Digest::parse(digest_of(c)); }

json descriptor(char c, std::string_view type = "application/octet-stream") {
  return {{"mediaType", type}, {"digest", digest_of(c)}, {"size", 10}};
}

json image(std::string_view media_type) {
  json doc = {{"schemaVersion", 2},
              {"config", descriptor('c', "application/vnd.oci.image.config.v1+json")},
              {"layers", json::array({descriptor('1'), descriptor('2')})}};
  if (!media_type.empty()) doc["mediaType"] = media_type;
  return doc;
}

json index(std::string_view media_type) {
  json doc = {
      {"schemaVersion", 2},
      {"manifests", json::array({descriptor('a', kOciManifest), descriptor('b', kOciManifest)})}};
  if (!media_type.empty()) doc["mediaType"] = media_type;
  return doc;
}

void expect_invalid(const json& doc, std::string_view content_type = "") {
  auto m = parse_manifest(doc.dump(), content_type);
  ASSERT_FALSE(m) << doc.dump();
  EXPECT_TRUE(m.error().is(Errc::bad_request));
  EXPECT_FALSE(m.error().message.empty());
}

TEST(OciManifest, ImageManifests) {
  for (auto type : {kOciManifest, kDockerManifest}) {
    auto m = parse_manifest(image(type).dump(), type);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->media_type, type);
    EXPECT_FALSE(m->index);
    EXPECT_EQ(m->blobs, (std::vector<Digest>{parsed('c'), parsed('1'), parsed('2')}));
    EXPECT_TRUE(m->manifests.empty());
    EXPECT_TRUE(m->foreign.empty());
    EXPECT_FALSE(m->subject);
  }
}

TEST(OciManifest, Indexes) {
  for (auto type : {kOciIndex, kDockerList}) {
    auto m = parse_manifest(index(type).dump(), type);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->media_type, type);
    EXPECT_TRUE(m->index);
    EXPECT_TRUE(m->blobs.empty());
    EXPECT_EQ(m->manifests, (std::vector<Digest>{parsed('a'), parsed('b')}));
  }
}

TEST(OciManifest, MediaTypeFromShapeOrContentType) {
  auto m = parse_manifest(image("").dump(), "");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->media_type, kOciManifest);
  m = parse_manifest(index("").dump(), "");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->media_type, kOciIndex);
  EXPECT_TRUE(m->index);
  m = parse_manifest(index("").dump(), kOciIndex);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->media_type, kOciIndex);
}

TEST(OciManifest, ContentTypeParametersIgnored) {
  auto m =
      parse_manifest(image(kOciManifest).dump(), std::string(kOciManifest) + "; charset=utf-8");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->media_type, kOciManifest);
  m = parse_manifest(image(kDockerManifest).dump(),
                     std::string(kDockerManifest) + " ;charset=utf-8");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->media_type, kDockerManifest);
}

// Served later by its shape, a Docker manifest without mediaType would come back as
// an OCI one: refused at push instead.
TEST(OciManifest, DockerManifestMustNameItself) {
  expect_invalid(image(""), kDockerManifest);
  expect_invalid(index(""), kDockerList);
}

TEST(OciManifest, ContentTypeMustMatchMediaType) {
  expect_invalid(image(kOciManifest), kDockerManifest);
  expect_invalid(index(kOciIndex), kOciManifest);
}

TEST(OciManifest, UnsupportedVersionsAndTypes) {
  json v1 = image(kOciManifest);
  v1["schemaVersion"] = 1;
  expect_invalid(v1);
  json none = image(kOciManifest);
  none.erase("schemaVersion");
  expect_invalid(none);
  json text = image(kOciManifest);
  text["schemaVersion"] = "2";
  expect_invalid(text);
  expect_invalid(image("application/vnd.docker.distribution.manifest.v1+prettyjws"));
  expect_invalid(image(""), "application/json");
  expect_invalid(json{{"schemaVersion", 2}});  // no shape, no type
}

TEST(OciManifest, MissingParts) {
  json no_config = image(kOciManifest);
  no_config.erase("config");
  expect_invalid(no_config);
  json no_layers = image(kOciManifest);
  no_layers.erase("layers");
  expect_invalid(no_layers);
  json layers_object = image(kOciManifest);
  layers_object["layers"] = json::object();
  expect_invalid(layers_object);
  json no_manifests = index(kOciIndex);
  no_manifests.erase("manifests");
  expect_invalid(no_manifests);
  // An index type with an image's body.
  expect_invalid(image(""), kOciIndex);
}

TEST(OciManifest, BadDescriptors) {
  json upper = image(kOciManifest);
  upper["layers"][0]["digest"] = "sha256:" + std::string(64, 'A');
  expect_invalid(upper);
  json short_digest = image(kOciManifest);
  short_digest["config"]["digest"] = "sha256:abc";
  expect_invalid(short_digest);
  json no_digest = index(kOciIndex);
  no_digest["manifests"][1].erase("digest");
  expect_invalid(no_digest);
  json negative = image(kOciManifest);
  negative["layers"][1]["size"] = -1;
  expect_invalid(negative);
  json fractional = image(kOciManifest);
  fractional["layers"][1]["size"] = 1.5;
  expect_invalid(fractional);
  json no_size = image(kOciManifest);
  no_size["config"].erase("size");
  expect_invalid(no_size);
  json not_object = image(kOciManifest);
  not_object["layers"][0] = digest_of('1');
  expect_invalid(not_object);
}

TEST(OciManifest, ForeignLayersAreNotRequired) {
  json doc = image(kDockerManifest);
  doc["layers"].push_back(
      descriptor('f', "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"));
  doc["layers"][2]["urls"] = {"https://example.com/layer"};
  doc["layers"].push_back(
      descriptor('e', "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"));
  doc["layers"][3]["urls"] = {"https://example.com/other"};
  // A distributable type with urls is still a blob that must be pushed.
  doc["layers"].push_back(descriptor('3', "application/vnd.oci.image.layer.v1.tar+gzip"));
  doc["layers"][4]["urls"] = {"https://example.com/mirror"};
  auto m = parse_manifest(doc.dump(), kDockerManifest);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->blobs, (std::vector<Digest>{parsed('c'), parsed('1'), parsed('2'), parsed('3')}));
  EXPECT_EQ(m->foreign, (std::vector<Digest>{parsed('f'), parsed('e')}));
}

TEST(OciManifest, Subject) {
  json doc = image(kOciManifest);
  doc["subject"] = descriptor('9', kOciManifest);
  auto m = parse_manifest(doc.dump(), kOciManifest);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(*m->subject, parsed('9'));
  doc["subject"]["digest"] = "sha256:nope";
  expect_invalid(doc);
}

TEST(OciManifest, NotAJsonObject) {
  for (std::string_view body :
       {"", "not json", "[]", "[1,2]", "2", "\"manifest\"", "null", "{\"schemaVersion\":2"}) {
    auto m = parse_manifest(body, kOciManifest);
    ASSERT_FALSE(m) << body;
    EXPECT_TRUE(m.error().is(Errc::bad_request));
  }
}

TEST(OciManifest, DeepNestingFailsCleanly) {
  const std::string open(100000, '[');
  EXPECT_FALSE(parse_manifest(open, kOciManifest));
  EXPECT_EQ(manifest_media_type(open), "");
  const std::string closed = open + std::string(100000, ']');
  EXPECT_FALSE(parse_manifest(closed, kOciManifest));
  EXPECT_EQ(manifest_media_type(closed), "");
  const std::string in_object = R"({"schemaVersion":2,"config":)" + closed + "}";
  EXPECT_FALSE(parse_manifest(in_object, kOciManifest));
  EXPECT_EQ(manifest_media_type(in_object), "");
}

TEST(OciManifest, MediaTypeToServe) {
  EXPECT_EQ(manifest_media_type(image(kDockerManifest).dump()), kDockerManifest);
  EXPECT_EQ(manifest_media_type(index(kDockerList).dump()), kDockerList);
  EXPECT_EQ(manifest_media_type(image("").dump()), kOciManifest);
  EXPECT_EQ(manifest_media_type(index("").dump()), kOciIndex);
  EXPECT_EQ(manifest_media_type(R"({"mediaType":5,"manifests":[]})"), kOciIndex);
  EXPECT_EQ(manifest_media_type(R"({"schemaVersion":2})"), "");
  EXPECT_EQ(manifest_media_type("[]"), "");
  EXPECT_EQ(manifest_media_type("not json"), "");
  EXPECT_EQ(manifest_media_type(""), "");
}

}  // namespace
}  // namespace shoal::oci
