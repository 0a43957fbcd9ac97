// Hashes and writes a byte stream to a file on a second thread, so receiving the next
// buffer from the network overlaps hashing and writing the previous one. On a 2-core
// machine this is what lets a download run near the SHA-256 rate instead of at the
// rate of receive + hash + write done one after another.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/digest.h"
#include "core/error.h"
#include "core/sha256.h"

namespace shoal {

class HashWriter {
 public:
  // fd is written with write(2) from the worker thread; the caller keeps it open until
  // finish() returns. Writeback is started every 32 MiB when fd is a regular file.
  // fd < 0 only hashes: a sender hashes on the side while it sends.
  explicit HashWriter(int fd, size_t buffer_size = 1u << 20);
  ~HashWriter();
  HashWriter(const HashWriter&) = delete;
  HashWriter& operator=(const HashWriter&) = delete;

  // Copies data into a free buffer (waiting for one) and hands it to the worker.
  // Returns the first write error the worker met, if any.
  Result<void> write(const char* data, size_t len);
  // Waits for everything handed over; the digest of all bytes, or the first error.
  Result<Digest> finish();

 private:
  struct Slot {
    std::unique_ptr<char[]> data;
    size_t len = 0;
    bool full = false;
  };
  void run();
  void consume(Slot& slot);

  int fd_;
  size_t buffer_size_;
  Slot slots_[2];
  int next_ = 0;  // the slot write() fills next
  std::mutex mu_;
  std::condition_variable cv_;
  bool closing_ = false;
  std::optional<Error> error_;
  Sha256 hash_;
  uint64_t written_ = 0, flushed_ = 0;
  std::thread worker_;
};

}  // namespace shoal
