// SHA-256 of the first `size` bytes of a file, computed on a thread of its own while
// the caller sends the same bytes with sendfile(2): the sender never copies them, and
// the hash reads them through a buffer small enough to stay in the CPU's cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>

#include "core/digest.h"
#include "core/error.h"

namespace shoal {

class FileHasher {
 public:
  // Starts at once; fd stays open (the caller's) until finish() returns or this dies.
  FileHasher(int fd, uint64_t size);
  ~FileHasher();  // stops early, result unread
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  // Waits for the digest; Errc::conflict if the file ended before `size` bytes.
  // Callable again: the same answer.
  Result<Digest> finish();

 private:
  Result<Digest> hash();

  int fd_;
  uint64_t size_;
  std::atomic<bool> stop_{false};
  std::optional<Result<Digest>> result_;  // written by the worker before it ends
  std::thread worker_;
};

}  // namespace shoal
