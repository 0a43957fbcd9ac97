// How fast this agent receives hand-out pieces from the origin. Every hand-out request
// tells the origin (Shoal-Rate), which gives no first copies to an agent far slower than
// the others: they would all wait on it for pieces only it holds, and the origin's
// own timing cannot see the difference while a piece still fits in its socket buffer.
// Timed from a piece's first body byte to its last, so a wait for a sending slot at the
// origin does not count. One per agent, shared by the hand-outs of every blob: a new
// download starts with what the last one measured. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace shoal::peer {

class ReceiveRate {
 public:
  // Fewer bytes than this say more about scheduling than about the link.
  static constexpr uint64_t kMinSampleBytes = 64 * 1024;

  void sample(uint64_t bytes, std::chrono::steady_clock::duration took);
  // Smoothed bytes per second; nullopt before the first sample.
  std::optional<uint64_t> bytes_per_second() const;

 private:
  mutable std::mutex mu_;
  double rate_ = 0;
};

}  // namespace shoal::peer
