// The S3 backend: every blob of the ring as one object of an S3-compatible bucket,
// named <prefix>blobs/sha256/<64 hex> (the prefix is used as given: end it with '/'
// for a folder). Writable; what it holds is whatever was put, the caller verifies.
#pragma once

#include <memory>
#include <string>

#include "storage/backend.h"
#include "storage/s3_client.h"

namespace shoal::storage {

// "<prefix>blobs/sha256/<hex>".
std::string s3_object_key(std::string_view prefix, const Digest& d);

// The one-line reason for a failed probe of the bucket: "S3 bucket NAME does not
// exist", "S3 rejected the credentials (SignatureDoesNotMatch: ...)", ...
std::string explain_probe(const S3Options& options, const http::Response& r);

class S3Backend : public Backend {
 public:
  S3Backend(S3Options options, std::string prefix);

  std::string describe() const override;
  Result<void> check() override;
  bool writable() const override { return true; }
  Result<std::optional<uint64_t>> head(const Digest& d, std::string_view repository) override;
  Result<uint64_t> get(const Digest& d, std::string_view repository,
                       const http::BodySink& sink) override;
  Result<void> put(const Digest& d, int fd, uint64_t size) override;
  Result<void> remove(const Digest& d) override;

 private:
  std::string key(const Digest& d) const { return s3_object_key(prefix_, d); }
  S3Client client_;
  std::string prefix_;
};

}  // namespace shoal::storage
