// Thin RAII and error-returning wrappers over POSIX file calls, so the store and the
// servers handle EINTR, short writes and ENOSPC in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "core/error.h"

namespace shoal {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset();

 private:
  int fd_ = -1;
};

Result<void> write_all(int fd, const void* data, size_t len);
// Reads up to len bytes at offset; returns bytes read (0 at end of file).
Result<size_t> pread_some(int fd, void* data, size_t len, uint64_t offset);
Result<void> fsync_fd(int fd, const std::string& what);
// fsyncs a directory so a rename or unlink inside it is durable.
Result<void> fsync_dir(const std::string& dir);
Result<uint64_t> file_size(int fd);
// Writes a small file durably: temporary in the same directory, fsync, rename, fsync dir.
Result<void> write_file_atomic(const std::string& path, const std::string& contents);
Result<std::string> read_small_file(const std::string& path, size_t max_bytes);

// A random lowercase-hex identifier of 2*bytes characters (upload ids, temp names).
std::string random_hex(size_t bytes);

}  // namespace shoal
