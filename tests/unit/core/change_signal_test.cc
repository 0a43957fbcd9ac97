#include "core/change_signal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace shoal {
namespace {

using namespace std::chrono_literals;

awaitable<void> wait_once(ChangeSignal& signal, std::chrono::milliseconds max_wait, bool& done) {
  co_await signal.wait(signal.version(), max_wait);
  done = true;
}

TEST(ChangeSignal, NotifyFromAnotherThreadWakesTheWaiter) {
  ChangeSignal signal;
  asio::io_context ioc;
  bool done = false;
  asio::co_spawn(ioc, wait_once(signal, 10s, done), asio::detached);
  ioc.run_one();  // the waiter registers and suspends
  auto started = std::chrono::steady_clock::now();
  std::thread notifier([&] { signal.notify(); });
  ioc.run_for(5s);
  notifier.join();
  EXPECT_TRUE(done);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(signal.version(), 1u);
}

TEST(ChangeSignal, AChangeBeforeTheWaitReturnsAtOnce) {
  ChangeSignal signal;
  asio::io_context ioc;
  bool done = false;
  uint64_t seen = signal.version();
  signal.notify();
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        co_await signal.wait(seen, 10s);
        done = true;
      },
      asio::detached);
  ioc.run_for(1s);
  EXPECT_TRUE(done);
}

TEST(ChangeSignal, AWaitEndsAfterMaxWaitWithoutNotify) {
  ChangeSignal signal;
  asio::io_context ioc;
  bool done = false;
  asio::co_spawn(ioc, wait_once(signal, 20ms, done), asio::detached);
  ioc.run_for(2s);
  EXPECT_TRUE(done);
}

// A download or fill may outlive the server whose io_context its readers waited on.
// Destroying the signal then, or notifying it, must not touch that context (ASan
// reports a use-after-free here if the signal keeps the waiters' timers alive).
TEST(ChangeSignal, OutlivesTheIoContextOfItsWaiters) {
  ChangeSignal signal;
  bool done = false;
  {
    asio::io_context ioc;
    asio::co_spawn(ioc, wait_once(signal, 10s, done), asio::detached);
    ioc.run_one();
    ioc.stop();
  }
  signal.notify();
  EXPECT_FALSE(done);
  EXPECT_EQ(signal.version(), 1u);
}

TEST(ChangeSignal, ManyWaitersEachTimeOut) {
  ChangeSignal signal;
  asio::io_context ioc;
  int finished = 0;
  for (int i = 0; i < 1000; ++i) {
    asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
          co_await signal.wait(signal.version(), 1ms);
          ++finished;
        },
        asio::detached);
  }
  ioc.run_for(5s);
  EXPECT_EQ(finished, 1000);
  signal.notify();  // nothing left to wake: every timer has gone with its waiter
  EXPECT_EQ(signal.version(), 1u);
}

}  // namespace
}  // namespace shoal
