// A blocking client for S3-compatible object storage (AWS S3, Ceph RGW, MinIO):
// path-style addressing (http://endpoint/bucket/key), Signature V4, bodies streamed
// in both directions through bounded buffers. Large objects go up as multipart
// uploads, several parts at once on the calling thread plus helper threads. Every
// request is retried with exponential backoff on connection errors and 5xx answers;
// a GET cut off midway resumes with a Range request. Thread-safe: calls on several
// threads share a pool of keep-alive connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/url.h"
#include "http/client.h"
#include "storage/sigv4.h"

namespace shoal::storage {

struct S3Options {
  Url endpoint;
  std::string bucket;
  std::string region = "us-east-1";
  AwsCredentials credentials;
  // Objects larger than one part go up as multipart uploads. S3 wants parts of at
  // least 5 MiB (but the last); each part in flight holds one buffer of this size.
  uint64_t part_size = 16ull << 20;
  unsigned parallel_parts = 4;
  unsigned attempts = 5;  // per request, the first included
  std::chrono::milliseconds first_backoff{200};
  // Hash each part (read into its buffer in the same pass) and sign the hash; without
  // it the body is sent as UNSIGNED-PAYLOAD, which TLS protects. Default: !tls.
  std::optional<bool> sign_payload;
  http::ClientOptions http;
};

class S3Client {
 public:
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // ListObjectsV2 with max-keys=1: the cheapest request that proves the bucket exists
  // and the signature is accepted. Returns the answer as it came (any status), for
  // the caller to explain; an error only when no answer came at all.
  Result<http::Response> probe_bucket();
  // The object's size, or nullopt when it does not exist.
  Result<std::optional<uint64_t>> head_object(std::string_view key);
  // Streams the object to `sink`; its size. Errc::not_found when it does not exist.
  Result<uint64_t> get_object(std::string_view key, const http::BodySink& sink);
  // Uploads `size` bytes of `fd` from offset 0 (pread).
  Result<void> put_object(std::string_view key, int fd, uint64_t size);
  // A missing object is success.
  Result<void> delete_object(std::string_view key);

  const S3Options& options() const { return opt_; }

  struct Request {
    std::string_view method{};
    std::string_view key{};  // "" for the bucket itself
    http::Headers query{};   // decoded
    http::Headers headers{};
    std::string_view body{};  // sent from memory; empty for none
    std::string payload_hash{};
  };
  // One request with retries on connection errors and 5xx; a response is returned
  // whatever its status once retries are spent or the status is final.
  Result<http::Response> send(const Request& r);

 private:
  class Pool;
  struct Part;
  Result<http::Response> send_once(http::Client& client, const Request& r);
  Result<void> put_single(std::string_view key, int fd, uint64_t size);
  Result<void> put_multipart(std::string_view key, int fd, uint64_t size);
  Result<std::string> upload_part(std::string_view key, const std::string& upload_id,
                                  unsigned number, int fd, uint64_t offset, uint64_t len,
                                  std::string& buffer);
  Result<Part> read_part(int fd, uint64_t offset, uint64_t len, std::string& buffer) const;
  Result<void> complete(std::string_view key, const std::string& upload_id,
                        const std::vector<std::string>& etags);
  void abort_upload(std::string_view key, const std::string& upload_id);
  std::string path_of(std::string_view key) const;
  bool sign_payload() const;
  std::chrono::milliseconds backoff(unsigned attempt) const;

  S3Options opt_;
  std::unique_ptr<Pool> pool_;
};

// "S3 PUT bucket/key: 403 SignatureDoesNotMatch: ..." for a failed answer, with the
// Errc of its status.
Error s3_failure(std::string_view method, std::string_view what, const http::Response& r);

}  // namespace shoal::storage
