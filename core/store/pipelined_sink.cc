#include "core/store/pipelined_sink.h"

#include "core/store/copy_into.h"

namespace shoal {

PipelinedSink::PipelinedSink(Consumer consumer, size_t buffer_size)
    : consumer_(std::move(consumer)), buffer_size_(buffer_size) {
  for (auto& s : slots_) s.data = std::make_unique<char[]>(buffer_size_);
  worker_ = std::thread([this] { run(); });
}

PipelinedSink::~PipelinedSink() { (void)finish(); }

Result<void> PipelinedSink::write(const char* data, size_t len) {
  return copy_into(data, len, [this] { return acquire(); }, [this](size_t n) { return commit(n); });
}

Result<std::span<char>> PipelinedSink::acquire() {
  Slot& slot = slots_[next_];
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !slot.full || error_; });
  if (error_) return *error_;
  // The worker never touches a slot that is not full: the producer may fill it unlocked.
  return std::span<char>(slot.data.get(), buffer_size_);
}

Result<void> PipelinedSink::commit(size_t n) {
  if (n == 0) return {};
  Slot& slot = slots_[next_];
  slot.len = std::min(n, buffer_size_);
  {
    std::lock_guard lock(mu_);
    slot.full = true;
  }
  cv_.notify_all();
  next_ ^= 1;
  return {};
}

void PipelinedSink::run() {
  for (int idx = 0;; idx ^= 1) {
    Slot& slot = slots_[idx];
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return slot.full || closing_; });
      if (!slot.full) return;  // closing and nothing left: slots fill in order
    }
    Result<void> ok;
    if (!error_) ok = consumer_(slot.data.get(), slot.len);
    {
      std::lock_guard lock(mu_);
      if (!ok && !error_) error_ = ok.error();
      slot.full = false;
    }
    cv_.notify_all();
  }
}

Result<void> PipelinedSink::finish() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (error_) return *error_;
  return {};
}

}  // namespace shoal
