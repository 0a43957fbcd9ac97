#include "storage/s3_spec.h"

#include <cstdlib>

#include "core/file_io.h"
#include "core/text.h"
#include "storage/s3_backend.h"

namespace shoal::storage {
namespace {

[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& why) {
  throw ConfigError("invalid value \"" + value + "\" for " + key + ": " + why);
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// S3's rules for bucket names that path-style addressing can carry.
void check_bucket(const std::string& name) {
  if (name.empty()) throw ConfigError("s3_bucket must be set when s3_endpoint is");
  if (name.size() < 3 || name.size() > 63) bad("s3_bucket", name, "must be 3 to 63 characters");
  for (char c : name) {
    if (!lower_alnum(c) && c != '-' && c != '.')
      bad("s3_bucket", name, "only lowercase letters, digits, '-' and '.' are allowed");
  }
  if (!lower_alnum(name.front()) || !lower_alnum(name.back()))
    bad("s3_bucket", name, "must begin and end with a letter or digit");
}

void check_region(const std::string& region) {
  if (region.empty()) bad("s3_region", region, "must not be empty");
  for (char c : region) {
    if (!lower_alnum(c) && c != '-') bad("s3_region", region, "expected a name such as us-east-1");
  }
}

void check_prefix(const std::string& prefix) {
  if (prefix.starts_with('/')) bad("s3_prefix", prefix, "must not begin with '/'");
  for (char c : prefix) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      bad("s3_prefix", prefix, "control characters are not allowed");
  }
}

AwsCredentials credentials_from(const Config& cfg) {
  if (const std::string file = cfg.str("s3_credentials"); !file.empty())
    return read_aws_credentials_file(file);
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id == nullptr || secret == nullptr || *id == '\0' || *secret == '\0') {
    throw ConfigError(
        "s3_endpoint is set but there are no credentials: set s3_credentials to a file "
        "(access key id and secret on two lines) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return {id, secret};
}

}  // namespace

std::vector<ConfigKey> s3_config_keys() {
  return {
      {"s3_endpoint", ConfigType::string, "",
       "URL of an S3-compatible store (path-style), e.g. https://s3.us-east-1.amazonaws.com; "
       "empty: no S3 backend"},
      {"s3_bucket", ConfigType::string, "", "bucket every blob is written back to"},
      {"s3_region", ConfigType::string, "us-east-1", "region named in the signature"},
      {"s3_prefix", ConfigType::string, "",
       "prepended to object keys (<prefix>blobs/sha256/<hex>); end it with / for a folder"},
      {"s3_credentials", ConfigType::string, "",
       "file with the access key id and the secret on two lines; empty: AWS_ACCESS_KEY_ID "
       "and AWS_SECRET_ACCESS_KEY"},
  };
}

AwsCredentials read_aws_credentials_file(const std::string& path) {
  auto text = read_small_file(path, 64 << 10);
  if (!text) throw ConfigError("cannot read s3_credentials " + path + ": " + text.error().message);
  std::vector<std::string> lines;
  std::string_view rest = *text;
  while (!rest.empty() && lines.size() < 3) {
    auto end = rest.find('\n');
    auto line = text::trim_space(rest.substr(0, end));
    if (!line.empty()) lines.emplace_back(line);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  if (lines.size() != 2) {
    throw ConfigError("s3_credentials " + path +
                      ": expected the access key id and the secret on two lines");
  }
  return {lines[0], lines[1]};
}

std::optional<S3Spec> s3_spec_from(const Config& cfg) {
  const std::string endpoint = cfg.str("s3_endpoint");
  if (endpoint.empty()) return std::nullopt;
  S3Spec spec;
  auto url = Url::parse(endpoint);
  if (!url) bad("s3_endpoint", endpoint, url.error().message);
  spec.options.endpoint = *url;
  spec.options.bucket = cfg.str("s3_bucket");
  check_bucket(spec.options.bucket);
  spec.options.region = cfg.str("s3_region");
  check_region(spec.options.region);
  spec.prefix = cfg.str("s3_prefix");
  check_prefix(spec.prefix);
  spec.options.credentials = credentials_from(cfg);
  return spec;
}

std::shared_ptr<Backend> make_s3_backend(const Config& cfg) {
  auto spec = s3_spec_from(cfg);
  if (!spec) return nullptr;
  return std::make_shared<S3Backend>(std::move(spec->options), std::move(spec->prefix));
}

}  // namespace shoal::storage
