// The Exchange of one HTTP/2 stream: what a handler calls becomes session calls, and
// the handler's coroutine waits on the stream (body bytes to arrive, its body parts
// to be framed) with the same timeouts as on HTTP/1.1. Internal to core's HTTP server.
#pragma once

#include "core/h2_stream.h"
#include "core/http_server.h"

namespace shoal::http::detail {

class H2Connection;

// A one-waiter wake-up on a strand. Waiters test their condition before waiting and
// everything runs on the one strand, so no notify() falls between test and wait.
class Wakeup {
 public:
  explicit Wakeup(const asio::any_io_executor& ex) : timer_(ex) {}
  void notify() { timer_.cancel(); }
  // Until notify() or `deadline`, whichever comes first.
  awaitable<void> wait_until(h2::Clock::time_point deadline);
  awaitable<void> wait() { return wait_until(h2::Clock::time_point::max()); }

 private:
  asio::steady_timer timer_;
};

class H2Exchange final : public Exchange, private h2::StreamObserver {
 public:
  H2Exchange(H2Connection& conn, h2::Stream& stream, std::string remote);
  ~H2Exchange() override;
  H2Exchange(const H2Exchange&) = delete;
  H2Exchange& operator=(const H2Exchange&) = delete;

  awaitable<Result<size_t>> read_body(std::span<char> buf) override;
  awaitable<void> respond(Head head, std::string_view body) override;
  awaitable<void> respond_file(Head head, int fd, uint64_t offset, uint64_t length) override;
  awaitable<bool> start_body(Head head, uint64_t length) override;
  awaitable<bool> send_file_part(int fd, uint64_t offset, uint64_t length) override;

  // After the handler: a 500 if it did not answer, GOAWAY if it asked to close; a
  // body left short is reset when the stream goes back to the session.
  awaitable<void> finish();

 private:
  void stream_changed() override { wake_.notify(); }
  bool usable() const;
  bool expects_continue() const;
  bool submit(Head& head, uint64_t content_length, uint64_t body_length);
  awaitable<void> respond_with(Head head, h2::BodySource body);
  awaitable<bool> send_part(h2::BodySource part);
  Error read_error(std::string_view what) const;
  void release();

  H2Connection& c_;
  h2::Stream* s_;  // null once released
  Wakeup wake_;
  bool continue_sent_ = false;
  bool streaming_ = false;
};

}  // namespace shoal::http::detail
