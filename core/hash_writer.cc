#include "core/hash_writer.h"

#include <fcntl.h>

#include <cstring>

#include "core/file_io.h"

namespace shoal {
namespace {
constexpr uint64_t kWritebackChunk = 32ull << 20;
}  // namespace

HashWriter::HashWriter(int fd, size_t buffer_size) : fd_(fd), buffer_size_(buffer_size) {
  for (auto& s : slots_) s.data = std::make_unique<char[]>(buffer_size_);
  worker_ = std::thread([this] { run(); });
}

HashWriter::~HashWriter() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Result<void> HashWriter::write(const char* data, size_t len) {
  while (len > 0) {
    Slot& slot = slots_[next_];
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !slot.full || error_; });
    if (error_) return *error_;
    lock.unlock();
    size_t n = std::min(len, buffer_size_);
    std::memcpy(slot.data.get(), data, n);  // the worker does not touch a slot that is not full
    slot.len = n;
    lock.lock();
    slot.full = true;
    lock.unlock();
    cv_.notify_all();
    next_ ^= 1;
    data += n;
    len -= n;
  }
  return {};
}

void HashWriter::consume(Slot& slot) {
  hash_.update(slot.data.get(), slot.len);
  if (fd_ < 0) return;
  auto ok = write_all(fd_, slot.data.get(), slot.len);
  if (!ok) {
    std::lock_guard lock(mu_);
    error_ = ok.error();
    return;
  }
  written_ += slot.len;
  if (written_ - flushed_ >= kWritebackChunk) {
    // Fails harmlessly on pipes and terminals; on files it keeps the final fsync short.
    ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
}

void HashWriter::run() {
  for (int idx = 0;; idx ^= 1) {
    Slot& slot = slots_[idx];
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return slot.full || closing_; });
      if (!slot.full) return;  // closing and nothing left: slots fill in order
    }
    if (!error_) consume(slot);
    {
      std::lock_guard lock(mu_);
      slot.full = false;
    }
    cv_.notify_all();
  }
}

Result<Digest> HashWriter::finish() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (error_) return *error_;
  return hash_.finish();
}

}  // namespace shoal
