// Outbound HTTP off the event loop: a pool of its own for blocking requests to another
// server (the origin, the tracker, the co-located peer agent), apart from
// blocking_pool() (offload.h), which commits to disk. A silent upstream holds a thread
// here until its client times out; were that thread one of the blocking pool's four,
// enough silent requests would stall every fsync and rename in the process.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>

#include "core/asio.h"
#include "http/offload.h"

namespace shoal::http {

// Threads in outbound_pool(). Fixed, not per request: work beyond them queues. As many
// as the edge's default max_fills (64), because a cache fill holds its thread for a
// whole blob; the short lookups of the tracker and the peer agent need far fewer,
// and a thread that never gets work costs only its stack.
inline constexpr size_t kOutboundThreads = 64;

asio::thread_pool& outbound_pool();

// Queues fn on outbound_pool() without waiting for it: for work that reports its
// outcome itself (an edge fill), and whose owner waits for it before going away.
void post_outbound(std::function<void()> fn);

// Runs fn on outbound_pool() and resumes the caller on its own executor afterwards.
// Until the caller has been handed back, the call counts as work of blocking_pool():
// the server joins that pool before its io_context goes away (server.cc), and so waits
// for these resumptions too instead of letting one land in a destroyed io_context.
template <class F>
awaitable<std::invoke_result_t<F>> outbound(F fn) {
  using R = std::invoke_result_t<F>;
  std::optional<R> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        auto shutdown_barrier = asio::make_work_guard(blocking_pool());
        asio::post(outbound_pool(),
                   [&, h = std::move(handler), g = std::move(shutdown_barrier)]() mutable {
                     result.emplace(fn());
                     resume_on_own_executor(std::move(h));
                     g.reset();
                   });
      },
      asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace shoal::http
