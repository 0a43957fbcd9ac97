#include "origin/referrers.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::origin {
namespace {

using nlohmann::json;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

const std::string kSignature =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("artifactType":"application/example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json",)"
    R"("digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},)"
    R"("layers":[],"annotations":{"org.example.signer":"ci"}})";
const std::string kSbom =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("config":{"mediaType":"application/example.sbom","digest":)"
    R"("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]})";

TEST(Referrers, ADescriptorCarriesTheArtifactTypeAndAnnotations) {
  auto desc = referrer_descriptor(digest_of(kSignature), kSignature);
  ASSERT_TRUE(desc);
  EXPECT_EQ((*desc)["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ((*desc)["digest"], digest_of(kSignature).str());
  EXPECT_EQ((*desc)["size"], kSignature.size());
  EXPECT_EQ((*desc)["artifactType"], "application/example.sig");
  EXPECT_EQ((*desc)["annotations"]["org.example.signer"], "ci");
}

TEST(Referrers, WithoutAnArtifactTypeTheConfigMediaTypeStandsIn) {
  auto desc = referrer_descriptor(digest_of(kSbom), kSbom);
  ASSERT_TRUE(desc);
  EXPECT_EQ((*desc)["artifactType"], "application/example.sbom");
  EXPECT_FALSE(desc->contains("annotations"));
  EXPECT_FALSE(referrer_descriptor(digest_of("x"), "not json"));
}

TEST(Referrers, TheIndexFiltersByArtifactTypeAndListsADigestOnce) {
  json all = json::array({*referrer_descriptor(digest_of(kSignature), kSignature),
                          *referrer_descriptor(digest_of(kSbom), kSbom),
                          *referrer_descriptor(digest_of(kSbom), kSbom)});
  json index = json::parse(referrers_index(all, std::nullopt));
  EXPECT_EQ(index["schemaVersion"], 2);
  EXPECT_EQ(index["mediaType"], "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(index["manifests"].size(), 2u);
  json sigs = json::parse(referrers_index(all, std::string("application/example.sig")));
  ASSERT_EQ(sigs["manifests"].size(), 1u);
  EXPECT_EQ(sigs["manifests"][0]["digest"], digest_of(kSignature).str());
  EXPECT_TRUE(json::parse(referrers_index(json::array(), std::nullopt))["manifests"].empty());
}

}  // namespace
}  // namespace shoal::origin
