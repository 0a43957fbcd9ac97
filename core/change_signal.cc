#include "core/change_signal.h"

namespace shoal {

void ChangeSignal::notify() {
  std::vector<std::shared_ptr<Timer>> wake;
  {
    std::lock_guard lock(mu_);
    ++version_;
    wake.swap(waiters_);
  }
  for (auto& timer : wake) {
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
    // Timers of waiters that timed out stay until the next notify; bound them.
    if (waiters_.size() > 4096) waiters_.erase(waiters_.begin(), waiters_.begin() + 2048);
    waiters_.push_back(timer);
  }
  beast::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace shoal
