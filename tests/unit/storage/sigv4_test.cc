// The signer against the worked examples of AWS's "Signature Version 4 for S3" pages
// (header-based authentication): one wrong byte anywhere changes the signature.
#include "storage/sigv4.h"

#include <gtest/gtest.h>

namespace shoal::storage {
namespace {

const AwsCredentials kExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
constexpr std::string_view kWhen = "20130524T000000Z";

std::string signature_of(const std::string& authorization) {
  return authorization.substr(authorization.rfind('=') + 1);
}

TEST(SigV4, TheGetObjectExampleHasAwsPublishedSignature) {
  SigningRequest r{"GET", "/test.txt", {},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"Range", "bytes=0-9"},
                    {"x-amz-content-sha256", std::string(kEmptyPayloadHash)},
                    {"x-amz-date", std::string(kWhen)}},
                   kEmptyPayloadHash};
  auto auth = authorization(r, kExample, "us-east-1", kWhen);
  EXPECT_EQ(auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, ThePutObjectExampleEncodesTheKeyAndHashesThePayload) {
  std::string payload_hash = sha256_hex("Welcome to Amazon S3.");
  EXPECT_EQ(payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  std::string path = "/" + uri_encode("test$file.text", true);
  EXPECT_EQ(path, "/test%24file.text");
  SigningRequest r{"PUT", path, {},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                    {"x-amz-date", std::string(kWhen)},
                    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                    {"x-amz-content-sha256", payload_hash}},
                   payload_hash};
  EXPECT_EQ(signature_of(authorization(r, kExample, "us-east-1", kWhen)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, TheListObjectsExampleSortsAndEncodesTheQuery) {
  SigningRequest r{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"x-amz-date", std::string(kWhen)},
                    {"x-amz-content-sha256", std::string(kEmptyPayloadHash)}},
                   kEmptyPayloadHash};
  EXPECT_EQ(canonical_query(r.query), "max-keys=2&prefix=J");
  EXPECT_EQ(signature_of(authorization(r, kExample, "us-east-1", kWhen)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, TheCanonicalRequestFoldsHeaderSpacesAndLowersNames) {
  SigningRequest r{"GET", "/b/k", {{"uploads", ""}},
                   {{"X-Amz-Date", kWhen.data()}, {"Host", "  h:9000  "}, {"X-Odd", "a   b"}},
                   kUnsignedPayload};
  EXPECT_EQ(canonical_request(r),
            "GET\n/b/k\nuploads=\nhost:h:9000\nx-amz-date:20130524T000000Z\nx-odd:a b\n\n"
            "host;x-amz-date;x-odd\nUNSIGNED-PAYLOAD");
}

TEST(SigV4, UriEncodingKeepsUnreservedAndSlashOnlyInPaths) {
  EXPECT_EQ(uri_encode("a-b_c.d~e/f g+h=", true), "a-b_c.d~e/f%20g%2Bh%3D");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
}

TEST(SigV4, SignS3AddsTheDateThePayloadHashAndAnAuthorizationForThatTime) {
  http::Headers headers{{"Range", "bytes=0-9"}};
  sign_s3(headers, "GET", "/test.txt", {}, "examplebucket.s3.amazonaws.com", kEmptyPayloadHash,
          kExample, "us-east-1", 1369353600);  // 2013-05-24T00:00:00Z
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[1].second, "20130524T000000Z");
  EXPECT_EQ(signature_of(headers[3].second),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

}  // namespace
}  // namespace shoal::storage
