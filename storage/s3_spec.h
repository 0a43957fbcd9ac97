// The configuration of the S3 backend: its keys (shared by every origin command,
// documented in docs/OPERATIONS.md) and their checks at start-up, where a bad value
// is a ConfigError naming the key. Wiring it into a command takes two lines: the keys
// into the schema, make_s3_backend() after parsing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "storage/backend.h"
#include "storage/s3_client.h"

namespace shoal::storage {

struct S3Spec {
  S3Options options;
  std::string prefix;
};

// s3_endpoint, s3_bucket, s3_region, s3_prefix, s3_credentials.
std::vector<ConfigKey> s3_config_keys();

// Without s3_endpoint: nullopt (the other keys are then ignored). Throws ConfigError
// for a bad URL, a missing or malformed bucket name, a bad region or prefix, an
// unreadable or malformed credentials file, or no credentials at all.
std::optional<S3Spec> s3_spec_from(const Config& cfg);

// The access key id on the first line, the secret on the second; throws ConfigError.
AwsCredentials read_aws_credentials_file(const std::string& path);

// nullptr when s3_endpoint is empty.
std::shared_ptr<Backend> make_s3_backend(const Config& cfg);

}  // namespace shoal::storage
