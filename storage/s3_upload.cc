// PutObject and multipart uploads: each part is read from the file with pread into
// a buffer of its own (hashed in the same pass when the payload is signed), so a
// retry re-sends it without touching the file and memory stays at parallel_parts
// buffers whatever the object's size.
#include <atomic>
#include <thread>

#include "core/file_io.h"
#include "core/sha256.h"
#include "storage/s3_client.h"
#include "storage/s3_xml.h"

namespace shoal::storage {

struct S3Client::Part {
  std::string_view bytes;
  std::string payload_hash;
};

Result<S3Client::Part> S3Client::read_part(int fd, uint64_t offset, uint64_t len,
                                           std::string& buffer) const {
  constexpr size_t kChunk = 1 << 20;  // hashed while still in cache
  buffer.resize(len);
  Sha256 hash;
  bool hashing = sign_payload();
  for (uint64_t done = 0; done < len;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, len - done));
    auto n = pread_some(fd, buffer.data() + done, want, offset + done);
    if (!n) return n.error();
    if (*n == 0) return Error(Errc::io_error, "S3 upload: the file ended before its size");
    if (hashing) hash.update(buffer.data() + done, *n);
    done += *n;
  }
  return Part{buffer, hashing ? hash.finish().hex() : std::string(kUnsignedPayload)};
}

Result<void> S3Client::put_object(std::string_view key, int fd, uint64_t size) {
  if (size <= opt_.part_size) return put_single(key, fd, size);
  return put_multipart(key, fd, size);
}

Result<void> S3Client::put_single(std::string_view key, int fd, uint64_t size) {
  std::string buffer;
  auto part = read_part(fd, 0, size, buffer);
  if (!part) return part.error();
  auto r = send({.method = "PUT", .key = key, .body = part->bytes,
                 .payload_hash = part->payload_hash});
  if (!r) return r.error();
  if (!r->success()) return s3_failure("PUT", opt_.bucket + "/" + std::string(key), *r);
  return {};
}

Result<std::string> S3Client::upload_part(std::string_view key, const std::string& upload_id,
                                          unsigned number, int fd, uint64_t offset,
                                          uint64_t len, std::string& buffer) {
  auto part = read_part(fd, offset, len, buffer);
  if (!part) return part.error();
  auto r = send({.method = "PUT", .key = key,
                 .query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                 .body = part->bytes, .payload_hash = part->payload_hash});
  if (!r) return r.error();
  std::string what = opt_.bucket + "/" + std::string(key) + " part " + std::to_string(number);
  if (!r->success()) return s3_failure("PUT", what, *r);
  auto etag = r->header("etag");
  if (etag.empty()) return Error(Errc::protocol_error, "S3 PUT " + what + ": no ETag in the answer");
  return etag;
}

Result<void> S3Client::complete(std::string_view key, const std::string& upload_id,
                                const std::vector<std::string>& etags) {
  std::vector<CompletedPart> parts;
  for (size_t i = 0; i < etags.size(); ++i) parts.push_back({static_cast<unsigned>(i + 1), etags[i]});
  std::string body = complete_multipart_body(parts);
  auto r = send({.method = "POST", .key = key, .query = {{"uploadId", upload_id}},
                 .body = body, .payload_hash = sha256_hex(body)});
  if (!r) return r.error();
  std::string what = opt_.bucket + "/" + std::string(key) + " (complete multipart upload)";
  // S3 may answer 200 and still fail: the error is then in the body.
  if (!r->success() || !s3_error_code(r->body).empty()) {
    if (r->success()) r->status = 500;
    return s3_failure("POST", what, *r);
  }
  return {};
}

void S3Client::abort_upload(std::string_view key, const std::string& upload_id) {
  // Best effort: a leftover upload only costs space until a lifecycle rule removes it.
  (void)send({.method = "DELETE", .key = key, .query = {{"uploadId", upload_id}},
              .payload_hash = std::string(kEmptyPayloadHash)});
}

Result<void> S3Client::put_multipart(std::string_view key, int fd, uint64_t size) {
  std::string what = opt_.bucket + "/" + std::string(key);
  auto started = send({.method = "POST", .key = key, .query = {{"uploads", ""}},
                       .payload_hash = std::string(kEmptyPayloadHash)});
  if (!started) return started.error();
  if (!started->success()) return s3_failure("POST", what + " (start multipart upload)", *started);
  auto upload_id = xml_element(started->body, "UploadId");
  if (!upload_id || upload_id->empty())
    return Error(Errc::protocol_error, "S3 POST " + what + ": no UploadId in the answer");

  size_t count = static_cast<size_t>((size + opt_.part_size - 1) / opt_.part_size);
  std::vector<std::string> etags(count);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    std::string buffer;
    for (size_t i; !failed && (i = next++) < count;) {
      uint64_t offset = i * opt_.part_size;
      auto etag = upload_part(key, *upload_id, static_cast<unsigned>(i + 1), fd, offset,
                              std::min(opt_.part_size, size - offset), buffer);
      if (etag) {
        etags[i] = std::move(*etag);
        continue;
      }
      std::lock_guard lock(error_mu);
      if (!first_error) first_error = etag.error();
      failed = true;
    }
  };
  std::vector<std::thread> helpers;
  unsigned width = std::max(1u, std::min<unsigned>(opt_.parallel_parts, count));
  for (unsigned i = 1; i < width; ++i) helpers.emplace_back(worker);
  worker();
  for (auto& t : helpers) t.join();

  if (!first_error) {
    if (auto done = complete(key, *upload_id, etags); done) return {};
    else first_error = done.error();
  }
  abort_upload(key, *upload_id);
  return *first_error;
}

}  // namespace shoal::storage
