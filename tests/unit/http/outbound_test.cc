// The outbound pool beside the blocking pool: requests to a silent upstream, more of
// them than the outbound pool has threads, must not delay a commit through offload().
#include "http/outbound.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/offload.h"

namespace shoal::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A loopback listener that never accepts: the kernel completes the handshake, then
// nothing ever answers, like an origin that hangs.
class SilentUpstream {
 public:
  SilentUpstream() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 256);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentUpstream() { ::close(fd_); }
  Url url() const { return *Url::parse("http://127.0.0.1:" + std::to_string(port_)); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Holds every task that enters it until open() is called.
class Gate {
 public:
  void enter() {
    std::unique_lock lock(mu_);
    ++inside_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  bool wait_inside(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return inside_ >= n; });
  }
  size_t inside() {
    std::lock_guard lock(mu_);
    return inside_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  size_t inside_ = 0;
  bool open_ = false;
};

// Opens the gate when a test ends, even by a failed ASSERT: tasks left waiting in it
// would keep the pool from joining at exit.
struct OpenAtEnd {
  std::shared_ptr<Gate> gate;
  ~OpenAtEnd() { gate->open(); }
};

// How long an offload() of a trivial "commit" takes from a coroutine on `ioc`;
// negative when it has not completed within 5 s.
std::chrono::milliseconds time_one_offload(asio::io_context& ioc) {
  std::chrono::milliseconds took{-1};
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        auto start = Clock::now();
        auto commit = [] { return true; };
        co_await offload(commit);
        took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      },
      asio::detached);
  auto deadline = Clock::now() + 5s;
  while (took.count() < 0 && Clock::now() < deadline) ioc.run_one_for(50ms);
  return took;
}

TEST(Outbound, ExcessWorkQueuesInsteadOfStartingThreads) {
  // Shared with the tasks, which may still be leaving the gate when the test ends.
  auto gate = std::make_shared<Gate>();
  OpenAtEnd at_end{gate};
  auto done = std::make_shared<std::atomic<size_t>>(0);
  for (size_t i = 0; i < kOutboundThreads + 3; ++i) {
    post_outbound([gate, done] {
      gate->enter();
      ++*done;
    });
  }
  ASSERT_TRUE(gate->wait_inside(kOutboundThreads, 10s));
  std::this_thread::sleep_for(100ms);  // the three extra, were they to run, would be in by now
  EXPECT_EQ(gate->inside(), kOutboundThreads);
  gate->open();
  auto deadline = Clock::now() + 10s;
  while (*done < kOutboundThreads + 3 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(done->load(), kOutboundThreads + 3);
}

TEST(Outbound, StuckOutboundWorkDoesNotDelayOffload) {
  auto gate = std::make_shared<Gate>();
  OpenAtEnd at_end{gate};
  for (size_t i = 0; i < kOutboundThreads + 4; ++i) post_outbound([gate] { gate->enter(); });
  ASSERT_TRUE(gate->wait_inside(kOutboundThreads, 10s));
  asio::io_context ioc;
  auto took = time_one_offload(ioc);
  gate->open();
  EXPECT_GE(took.count(), 0) << "offload() never completed";
  EXPECT_LT(took, 1s);
  ioc.run_for(10s);  // a late offload() must not resume into a destroyed io_context
}

TEST(Outbound, ResumesTheCallerOnItsExecutorWithTheResult) {
  asio::io_context ioc;
  std::thread::id resumed_on;
  int got = 0;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        auto work = [] { return 42; };
        got = co_await outbound(work);
        resumed_on = std::this_thread::get_id();
      },
      asio::detached);
  ioc.run_for(10s);
  EXPECT_EQ(got, 42);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

// The case of issue 17: requests to an origin that never answers, more of them than
// the pool has threads, each waiting out its client's timeout; meanwhile a commit goes
// through. Before outbound.h these requests ran on blocking_pool(), where four of them
// stalled every offload() in the process until they timed out.
TEST(Outbound, SilentUpstreamDoesNotDelayACommit) {
  SilentUpstream upstream;
  const Url url = upstream.url();
  asio::io_context ioc;
  const size_t requests = kOutboundThreads + 8;
  std::atomic<size_t> failed{0};
  for (size_t i = 0; i < requests; ++i) {
    asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
          auto fetch = [&] {
            ClientOptions o;
            o.connect_timeout = 2s;
            o.io_timeout = 3s;
            return get_small(url, "/blobs/x/metainfo", 1024, o);
          };
          auto got = co_await outbound(fetch);
          if (!got) ++failed;
        },
        asio::detached);
  }
  ioc.poll();  // every request is now queued or under way on the outbound pool
  std::this_thread::sleep_for(300ms);
  auto took = time_one_offload(ioc);
  EXPECT_GE(took.count(), 0) << "offload() never completed";
  EXPECT_LT(took, 1s);
  EXPECT_EQ(failed.load(), 0u) << "the silent upstream answered before the commit";
  // The requests time out (3 s each, in two rounds of the pool) before the upstream and
  // the io_context they resume on go away.
  ioc.run_for(60s);
  EXPECT_EQ(failed.load(), requests);
}

}  // namespace
}  // namespace shoal::http
