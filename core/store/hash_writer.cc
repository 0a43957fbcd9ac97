#include "core/store/hash_writer.h"

#include <fcntl.h>

#include "core/file_io.h"

namespace shoal {
namespace {
constexpr uint64_t kWritebackChunk = 32ull << 20;
}  // namespace

HashWriter::HashWriter(int fd, size_t buffer_size)
    : fd_(fd), sink_([this](const char* p, size_t n) { return consume(p, n); }, buffer_size) {}

Result<void> HashWriter::consume(const char* data, size_t len) {
  if (!vouched_) hash_.update(data, len);
  if (fd_ < 0) return {};
  if (auto ok = write_all(fd_, data, len); !ok) return ok;
  written_ += len;
  if (written_ - flushed_ >= kWritebackChunk) {
    // Fails harmlessly on pipes and terminals; on files it keeps the final fsync short.
    ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
  return {};
}

Result<Digest> HashWriter::finish() {
  if (auto ok = sink_.finish(); !ok) return ok.error();
  if (vouched_) return *vouched_;
  return hash_.finish();
}

}  // namespace shoal
