#include "core/store/file_hasher.h"

#include <fcntl.h>

#include <algorithm>
#include <memory>

#include "core/file_io.h"
#include "core/sha256.h"

namespace shoal {
namespace {
// Read, then hashed while still in L2: a 1 MiB buffer would come back from memory.
constexpr size_t kStep = 256u << 10;
}  // namespace

FileHasher::FileHasher(int fd, uint64_t size)
    : fd_(fd), size_(size), worker_([this] { result_ = hash(); }) {}

FileHasher::~FileHasher() {
  stop_ = true;
  if (worker_.joinable()) worker_.join();
}

Result<Digest> FileHasher::finish() {
  if (worker_.joinable()) worker_.join();
  return *result_;
}

Result<Digest> FileHasher::hash() {
  ::posix_fadvise(fd_, 0, static_cast<off_t>(size_), POSIX_FADV_SEQUENTIAL);
  auto buf = std::make_unique<char[]>(kStep);
  Sha256 sha;
  for (uint64_t at = 0; at < size_;) {
    if (stop_) return Error(Errc::cancelled, "hashing stopped");
    auto n = pread_some(fd_, buf.get(), static_cast<size_t>(std::min<uint64_t>(kStep, size_ - at)),
                        at);
    if (!n) return n.error();
    if (*n == 0) return Error(Errc::conflict, "the file got shorter while it was hashed");
    sha.update(buf.get(), *n);
    at += *n;
  }
  return sha.finish();
}

}  // namespace shoal
