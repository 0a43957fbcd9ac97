// AWS Signature Version 4 for S3: the canonical request, the string to sign, the
// derived signing key and the Authorization header. Pure functions of their inputs
// (the clock is a parameter) so AWS's published examples can check them byte for byte.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.h"

namespace shoal::storage {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// The x-amz-content-sha256 value of a request whose body is not hashed (allowed over
// TLS by AWS, and by RGW over plain HTTP too).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// The SHA-256 of no bytes, for requests without a body.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything
// else becomes %XX (upper case); '/' stays in paths and is encoded in query values.
std::string uri_encode(std::string_view s, bool keep_slash);

// "20130524T000000Z" for a UTC time (its first 8 characters are the scope date).
std::string amz_date(std::time_t t);

struct SigningRequest {
  std::string_view method;     // "GET"
  std::string_view path;       // the request target's path, already URI-encoded
  http::Headers query;         // decoded name/value pairs; encoded and sorted here
  http::Headers headers;       // every header to sign, host and x-amz-* included
  std::string_view payload_hash;  // hex SHA-256 of the body, or kUnsignedPayload
};

std::string canonical_query(const http::Headers& query);
std::string canonical_request(const SigningRequest& r);
std::string string_to_sign(std::string_view amz_datetime, std::string_view scope,
                           std::string_view canonical);
// HMAC chain of "AWS4"+secret over date, region, service and "aws4_request".
std::array<uint8_t, 32> signing_key(std::string_view secret, std::string_view date,
                                    std::string_view region, std::string_view service);
std::string hmac_sha256_hex(const std::array<uint8_t, 32>& key, std::string_view data);
std::string sha256_hex(std::string_view data);

// The Authorization header value for `r`, signed at `amz_datetime` ("...T...Z").
// `r.headers` must already hold x-amz-date (and host) with that time.
std::string authorization(const SigningRequest& r, const AwsCredentials& creds,
                          std::string_view region, std::string_view amz_datetime);

// Adds x-amz-date, x-amz-content-sha256 and Authorization to `headers` for a request
// to `host` (the Host header value): what every S3 call does before it is sent.
void sign_s3(http::Headers& headers, std::string_view method, std::string_view path,
             const http::Headers& query, std::string_view host, std::string_view payload_hash,
             const AwsCredentials& creds, std::string_view region, std::time_t now);

}  // namespace shoal::storage
