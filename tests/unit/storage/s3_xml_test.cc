#include "storage/s3_xml.h"

#include <gtest/gtest.h>

#include "storage/s3_client.h"

namespace shoal::storage {
namespace {

constexpr std::string_view kNoSuchBucket =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
    "<Message>The specified bucket does not exist</Message><BucketName>nope</BucketName>"
    "<RequestId>tx1</RequestId></Error>";

TEST(S3Xml, AnErrorDocumentBecomesOneLineWithCodeAndMessage) {
  EXPECT_EQ(s3_error_line(kNoSuchBucket), "NoSuchBucket: The specified bucket does not exist");
  EXPECT_EQ(s3_error_code(kNoSuchBucket), "NoSuchBucket");
}

TEST(S3Xml, RgwErrorsWithoutAMessageKeepTheCode) {
  EXPECT_EQ(s3_error_line("<Error><Code>SignatureDoesNotMatch</Code><RequestId>x</RequestId></Error>"),
            "SignatureDoesNotMatch");
}

TEST(S3Xml, NewlinesAndEntitiesInTheMessageAreFlattened) {
  EXPECT_EQ(s3_error_line("<Error><Code>A</Code><Message>x &amp; y\n&lt;z&gt;</Message></Error>"),
            "A: x & y <z>");
}

TEST(S3Xml, BodiesThatAreNoErrorDocumentGiveNothing) {
  EXPECT_EQ(s3_error_line(""), "");
  EXPECT_EQ(s3_error_line("<html>Bad Gateway</html>"), "");
  EXPECT_EQ(s3_error_code("<ListBucketResult><Code>x</Code></ListBucketResult>"), "");
  EXPECT_EQ(s3_error_line("<Error><Code>Truncated"), "");
}

TEST(S3Xml, TheUploadIdIsReadFromTheInitiateAnswer) {
  EXPECT_EQ(xml_element("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                        "<UploadId>2~abc</UploadId></InitiateMultipartUploadResult>",
                        "UploadId"),
            "2~abc");
  EXPECT_FALSE(xml_element("<Result/>", "UploadId"));
}

TEST(S3Xml, TheCompleteBodyListsPartsInOrderWithEscapedEtags) {
  EXPECT_EQ(complete_multipart_body({{1, "\"a1\""}, {2, "\"b2\""}}),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;a1&quot;</ETag>"
            "</Part><Part><PartNumber>2</PartNumber><ETag>&quot;b2&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(S3Xml, AFailedAnswerNamesTheRequestAndMapsItsStatus) {
  http::Response r;
  r.status = 404;
  r.body = std::string(kNoSuchBucket);
  auto e = s3_failure("GET", "nope/k", r);
  EXPECT_TRUE(e.is(Errc::not_found));
  EXPECT_EQ(e.message, "S3 GET nope/k: 404 NoSuchBucket: The specified bucket does not exist");
  r.status = 503;
  r.body.clear();
  EXPECT_EQ(s3_failure("PUT", "b/k", r).message, "S3 PUT b/k: HTTP 503");
  EXPECT_TRUE(s3_failure("PUT", "b/k", r).is(Errc::unavailable));
}

}  // namespace
}  // namespace shoal::storage
