// Runs a consumer of a byte stream (hash + write, typically) on its own thread, so
// the producer can receive the next buffer while the last one is consumed. Two
// buffers: write() copies into a free one (waiting for it if both are in use, which
// is the back-pressure) and hands it over. On 2 cores this is what lets a transfer
// that must hash every byte run near the SHA-256 rate rather than at the rate of
// receive + hash + write done one after another.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "core/error.h"

namespace shoal {

class PipelinedSink {
 public:
  using Consumer = std::function<Result<void>(const char* data, size_t len)>;

  explicit PipelinedSink(Consumer consumer, size_t buffer_size = 1u << 20);
  ~PipelinedSink();
  PipelinedSink(const PipelinedSink&) = delete;
  PipelinedSink& operator=(const PipelinedSink&) = delete;

  // Returns the first error the consumer met, if any; nothing is consumed after it.
  Result<void> write(const char* data, size_t len);
  // The zero-copy form of write(): the free buffer (buffer_size bytes; waiting for
  // one if both are in use), for the producer to fill in place, e.g. from a socket.
  // commit(n) hands its first n bytes over; 0 gives it back unused.
  Result<std::span<char>> acquire();
  Result<void> commit(size_t n);
  // Waits until everything handed over is consumed; the first error, if any.
  Result<void> finish();

 private:
  struct Slot {
    std::unique_ptr<char[]> data;
    size_t len = 0;
    bool full = false;
  };
  void run();

  Consumer consumer_;
  size_t buffer_size_;
  Slot slots_[2];
  int next_ = 0;  // the slot write() fills next
  std::mutex mu_;
  std::condition_variable cv_;
  bool closing_ = false;
  std::optional<Error> error_;
  std::thread worker_;
};

}  // namespace shoal
