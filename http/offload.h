// Blocking work off the event loop: a shared pool for calls that may block for long
// (fsync, rename, reading a directory), resuming the caller on its own executor.
#pragma once

#include <optional>
#include <type_traits>

#include "core/asio.h"

namespace shoal::http {

asio::thread_pool& blocking_pool();

// Hands a completion handler back to its own executor. The copy of that executor dies
// in here, before the caller drops any shutdown barrier (a work guard on
// blocking_pool()): it refers to a strand that the io_context frees as soon as the
// barrier lets shutdown go on.
template <class Handler>
void resume_on_own_executor(Handler h) {
  auto ex = asio::get_associated_executor(h);
  asio::dispatch(ex, std::move(h));
}

// Runs fn on blocking_pool() and resumes the caller on its own executor afterwards.
template <class F>
awaitable<std::invoke_result_t<F>> offload(F fn) {
  using R = std::invoke_result_t<F>;
  std::optional<R> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        asio::post(blocking_pool(), [&, h = std::move(handler)]() mutable {
          result.emplace(fn());
          resume_on_own_executor(std::move(h));
        });
      },
      asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace shoal::http
