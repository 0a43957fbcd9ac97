// Hashes and writes a byte stream to a file on a second thread (a PipelinedSink), so
// receiving the next buffer from the network overlaps hashing and writing the last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/digest.h"
#include "core/error.h"
#include "core/store/pipelined_sink.h"
#include "core/sha256.h"

namespace shoal {

class HashWriter {
 public:
  // fd is written from the worker thread; the caller keeps it open until finish()
  // returns. Writeback is started every 32 MiB when fd is a regular file.
  // fd < 0 only hashes: a sender hashes on the side while it sends.
  explicit HashWriter(int fd, size_t buffer_size = 1u << 20);

  Result<void> write(const char* data, size_t len) { return sink_.write(data, len); }
  // Zero-copy writes: fill the lent buffer in place, then commit its first n bytes.
  Result<std::span<char>> acquire() { return sink_.acquire(); }
  Result<void> commit(size_t n) { return sink_.commit(n); }
  // Before the first write: a source trusted to have checked every byte against `d`
  // vouches for them, so they are written without hashing and finish() returns d.
  void vouched(const Digest& d) { vouched_ = d; }
  // Waits for everything handed over; the digest of all bytes, or the first error.
  Result<Digest> finish();

 private:
  Result<void> consume(const char* data, size_t len);

  int fd_;
  Sha256 hash_;
  std::optional<Digest> vouched_;
  uint64_t written_ = 0, flushed_ = 0;
  PipelinedSink sink_;  // last: its worker uses the members above
};

}  // namespace shoal
