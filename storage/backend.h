// Durable storage behind a ring of origins: where a blob lives beyond the origins'
// disks. Two kinds, both real: S3-compatible object storage (read and write) and an
// upstream OCI registry (read-only pull-through). Calls block: the origin runs them
// on its outbound pool, never on an event loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"
#include "http/client.h"

namespace shoal::storage {

class Backend {
 public:
  virtual ~Backend() = default;
  // "s3 http://host:port/bucket/prefix", for logs and /blobs/<d>/status.
  virtual std::string describe() const = 0;
  // Start-up: can the backend be reached with the credentials given? The error is one
  // line naming what is wrong (unreachable endpoint, missing bucket, bad signature).
  virtual Result<void> check() = 0;
  virtual bool writable() const = 0;

  // The blob's size, or nullopt when the backend does not hold it. `repository`: a
  // repository known to reference the blob (a registry needs one; S3 ignores it).
  virtual Result<std::optional<uint64_t>> head(const Digest& d, std::string_view repository) = 0;
  // Streams the blob's bytes to `sink` in order; its size. Errc::not_found when absent.
  // The caller verifies the digest: a backend returns what it holds.
  virtual Result<uint64_t> get(const Digest& d, std::string_view repository,
                               const http::BodySink& sink) = 0;
  // Stores `size` bytes read from `fd` (from offset 0, with pread: the caller's file
  // position is untouched) as blob d. Idempotent. Only when writable().
  virtual Result<void> put(const Digest& d, int fd, uint64_t size) = 0;
  // Removes blob d; not_found is success. Only when writable().
  virtual Result<void> remove(const Digest& d) = 0;
};

}  // namespace shoal::storage
