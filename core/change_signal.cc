#include "core/change_signal.h"

#include <algorithm>

namespace shoal {

void ChangeSignal::notify() {
  std::vector<std::weak_ptr<Timer>> wake;
  {
    std::lock_guard lock(mu_);
    ++version_;
    wake.swap(waiters_);
  }
  for (auto& weak : wake) {
    auto timer = weak.lock();
    if (!timer) continue;  // that waiter has gone
    auto cancel = [timer] { timer->cancel(); };
    asio::post(timer->get_executor(), cancel);
  }
}

awaitable<void> ChangeSignal::wait(uint64_t seen, std::chrono::milliseconds max_wait) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<Timer>(executor);
  timer->expires_after(max_wait);
  {
    std::lock_guard lock(mu_);
    if (version_ != seen) co_return;
    // Waiters that timed out are remembered until the next notify: forget the gone.
    if (waiters_.size() >= prune_at_) {
      std::erase_if(waiters_, [](auto& w) { return w.expired(); });
      prune_at_ = std::max<size_t>(64, 2 * waiters_.size());  // amortised O(1) per wait
    }
    waiters_.push_back(timer);
  }
  beast::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace shoal
