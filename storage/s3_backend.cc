#include "storage/s3_backend.h"

#include "storage/s3_xml.h"

namespace shoal::storage {

std::string s3_object_key(std::string_view prefix, const Digest& d) {
  return std::string(prefix) + "blobs/sha256/" + d.hex();
}

std::string explain_probe(const S3Options& options, const http::Response& r) {
  std::string code = s3_error_code(r.body);
  std::string line = s3_error_line(r.body);
  if (code == "NoSuchBucket" || (code.empty() && r.status == 404))
    return "S3 bucket " + options.bucket + " does not exist at " + options.endpoint.str();
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || r.status == 403)
    return "S3 rejected the credentials (" + (line.empty() ? "HTTP 403" : line) + ")";
  return "S3 endpoint " + options.endpoint.str() + " answered HTTP " + std::to_string(r.status) +
         (line.empty() ? "" : " (" + line + ")");
}

S3Backend::S3Backend(S3Options options, std::string prefix)
    : client_(std::move(options)), prefix_(std::move(prefix)) {}

std::string S3Backend::describe() const {
  const auto& o = client_.options();
  return "s3 " + o.endpoint.str() + "/" + o.bucket + (prefix_.empty() ? "" : "/" + prefix_);
}

Result<void> S3Backend::check() {
  const auto& o = client_.options();
  auto r = client_.probe_bucket();
  if (!r) return Error(r.error().code, "S3 endpoint " + o.endpoint.str() + " unreachable: " + r.error().message);
  if (r->success()) return {};
  return Error(http::errc_for_status(r->status), explain_probe(o, *r));
}

Result<std::optional<uint64_t>> S3Backend::head(const Digest& d, std::string_view) {
  return client_.head_object(key(d));
}

Result<uint64_t> S3Backend::get(const Digest& d, std::string_view, const http::BodySink& sink) {
  return client_.get_object(key(d), sink);
}

Result<void> S3Backend::put(const Digest& d, int fd, uint64_t size) {
  return client_.put_object(key(d), fd, size);
}

Result<void> S3Backend::remove(const Digest& d) { return client_.delete_object(key(d)); }

}  // namespace shoal::storage
