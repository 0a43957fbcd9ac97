// Lets coroutines wait for state that another thread changes (a download gaining
// pieces): a version number plus timers to wake. Waiters re-check their condition
// after every wake-up, so a spurious or missed wake costs at most `max_wait`.
//
// The waiting coroutine owns its timer; the signal only remembers it. A signal may
// outlive the io_context its waiters ran on (a download kept by the agent after the
// server stopped), and destroying a timer after its io_context is a use-after-free.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/asio.h"

namespace shoal {

class ChangeSignal {
 public:
  uint64_t version() const {
    std::lock_guard lock(mu_);
    return version_;
  }

  // Thread-safe: bumps the version and wakes every waiter on its own executor.
  void notify();

  // Returns once the version differs from `seen`, or after max_wait. The caller's
  // executor must be a strand (or single-threaded) so the wake-up, posted to it,
  // cannot run before the wait has begun.
  awaitable<void> wait(uint64_t seen, std::chrono::milliseconds max_wait);

 private:
  using Timer = asio::steady_timer;
  mutable std::mutex mu_;
  uint64_t version_ = 0;
  std::vector<std::weak_ptr<Timer>> waiters_;
  size_t prune_at_ = 64;
};

}  // namespace shoal
