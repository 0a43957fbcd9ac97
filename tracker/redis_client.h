// A small Redis client for the peer store: pooled connections to one server or to the
// master that Redis Sentinel names, on a thread and io_context of its own, with a
// timeout on every connect and every request. Callers pipeline: one request is several
// commands encoded back to back (redis_protocol.h), written at once, and answered by as
// many replies, so one announce costs one round trip.
//
// Failures: a request whose connection fails, or that a server answers READONLY or
// MASTERDOWN (a master demoted by a failover), is retried once on a fresh connection;
// with Sentinel the master is looked up again first, so a tracker follows a failover
// without a restart. Everything else comes back as Errc::unavailable with a sentence
// naming the server. Error replies to the commands themselves are handed back as
// replies: the caller decides what they mean.
//
// Why a thread of its own: the pool, the waiters and the master's address are then
// touched by one thread only (no locks), and the client controls its sockets' lifetime
// (they are closed before its io_context goes), whatever the server's shutdown order.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/asio.h"
#include "core/error.h"
#include "tracker/peer_store_spec.h"
#include "tracker/redis_protocol.h"

namespace shoal::tracker::redis {

struct ClientOptions {
  RedisTarget target;
  // Limit on each connect (with its SELECT and ROLE) and on each request's round trip;
  // a Sentinel is asked within it too.
  std::chrono::milliseconds timeout{1000};
  size_t max_connections = 8;  // beyond it, requests wait (at most `timeout`) for one
};

// Read from any thread (metrics).
struct ClientStats {
  std::atomic<uint64_t> commands{0};          // commands sent (a pipeline counts each)
  std::atomic<uint64_t> connects{0};          // connections opened to a Redis server
  std::atomic<uint64_t> connect_failures{0};  // ... that failed (refused, timed out)
  std::atomic<uint64_t> master_changes{0};    // Sentinel named another master
  std::atomic<uint64_t> retries{0};           // requests tried again after a failure
  std::atomic<int64_t> connections{0};        // open or opening
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();  // stops the thread; requests under way are dropped
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `payload` (`count` commands) and reads `count` replies. Callable from any
  // thread; resumes the caller on its own executor. While the call is under way it
  // counts as work of http::blocking_pool(), which the server joins before its
  // io_context goes, so no resumption lands in a destroyed io_context.
  awaitable<Result<std::vector<Reply>>> request(std::string payload, size_t count);
  // The same for a coroutine that already runs on executor().
  awaitable<Result<std::vector<Reply>>> request_here(std::string payload, size_t count);

  asio::io_context::executor_type executor() { return ioc_.get_executor(); }
  const ClientStats& stats() const { return stats_; }
  const ClientOptions& options() const { return opts_; }

 private:
  struct Conn;
  struct Waiter;
  using ConnPtr = std::shared_ptr<Conn>;

  awaitable<void> run_into(std::string payload, size_t count,
                           std::optional<Result<std::vector<Reply>>>* out);
  // A pooled connection, a new one, or one handed over by release() within `timeout`.
  awaitable<Result<ConnPtr>> acquire();
  void release(ConnPtr conn);
  void drop(const ConnPtr& conn);
  // A connection slot freed up: a waiter may open a connection of its own.
  void hand_slot();
  // The connections in the pool are suspect (a request failed): drop the idle ones,
  // retire the busy ones when they come back, and ask Sentinel again next time.
  void invalidate();
  // Opens a connection to the server (or master) and runs SELECT / ROLE on it.
  awaitable<Result<ConnPtr>> open();
  // open() in a slot this caller holds; a failure gives the slot back.
  awaitable<Result<ConnPtr>> open_in_slot();
  awaitable<Result<HostPort>> find_master();
  awaitable<Result<ConnPtr>> connect_to(const HostPort& server);
  awaitable<Result<std::vector<tcp::endpoint>>> resolve(const HostPort& server);
  awaitable<Result<std::vector<Reply>>> exchange(Conn& conn, const std::string& payload,
                                                 size_t count);
  void note_failure(const Error& e);
  void note_success();

  const ClientOptions opts_;
  ClientStats stats_;
  asio::io_context ioc_{1};  // first: the sockets and timers below go before it
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // Touched only on the client's thread:
  std::vector<ConnPtr> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  size_t open_ = 0;          // connections open or being opened
  uint64_t generation_ = 0;  // bumped by invalidate(): older connections are retired
  std::optional<HostPort> master_;       // Sentinel's answer, until a failure
  std::optional<HostPort> last_master_;  // to log and count changes
  size_t first_sentinel_ = 0;            // the one that answered last is asked first
  bool down_ = false;                    // logged once per outage
  std::thread thread_;
};

}  // namespace shoal::tracker::redis
