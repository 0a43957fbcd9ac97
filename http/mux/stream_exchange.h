// The Exchange of one HTTP/2 or HTTP/3 stream: what a handler calls becomes calls on
// the connection's protocol session, and the handler's coroutine waits on the stream
// (body bytes to arrive, its body parts to be taken) with the same timeouts as on
// HTTP/1.1. One implementation for both multiplexed protocols, so they cannot drift
// apart (H2O's layering). Internal to core's HTTP server.
#pragma once

#include <memory>
#include <vector>

#include "http/mux/headers.h"
#include "http/mux/stream.h"
#include "http/server.h"

namespace shoal::http::mux {

// A one-waiter wake-up on a strand. Waiters test their condition before waiting and
// everything runs on the one strand, so no notify() falls between test and wait.
class Wakeup {
 public:
  explicit Wakeup(const asio::any_io_executor& ex) : timer_(ex) {}
  void notify() { timer_.cancel(); }
  // Until notify() or `deadline`, whichever comes first.
  awaitable<void> wait_until(Clock::time_point deadline);
  awaitable<void> wait() { return wait_until(Clock::time_point::max()); }

 private:
  asio::steady_timer timer_;
};

// What a multiplexed connection (HTTP/2 or HTTP/3) offers the exchanges of its
// streams. Every call happens on the connection's strand.
class StreamTransport {
 public:
  virtual Result<void> respond(Stream& s, const std::vector<Field>& fields,
                               uint64_t body_length) = 0;
  // Lends the next body part until it is taken (s.part.remaining drops to 0).
  virtual void provide(Stream& s, BodySource part, Clock::time_point now) = 0;
  virtual void send_continue(Stream& s) = 0;
  // The handler read n body bytes: the client may send n more.
  virtual void consume(Stream& s, size_t n) = 0;
  // Gives up the response body: the client sees a failed stream, not a short body.
  virtual void abort(Stream& s) = 0;
  virtual void release(Stream& s) = 0;
  // No new requests on this connection; open ones may finish.
  virtual void drain() = 0;
  // Output is queued: have the writer send it.
  virtual void flush() = 0;
  // False once the connection takes no more output (closing or closed).
  virtual bool alive() const = 0;
  virtual const ServerOptions& opts() const = 0;
  virtual asio::any_io_executor executor() = 0;

 protected:
  ~StreamTransport() = default;
};

// The stream calls of StreamTransport passed on to a protocol session that has them
// under the same names (h2::Session, h3::Session); the connection adds the rest.
template <class Session>
class SessionTransport : public StreamTransport {
 public:
  Result<void> respond(Stream& s, const std::vector<Field>& fields,
                       uint64_t body_length) override {
    return session_->respond(s, fields, body_length);
  }
  void provide(Stream& s, BodySource part, Clock::time_point now) override {
    session_->provide(s, part, now);
  }
  void send_continue(Stream& s) override { session_->send_continue(s); }
  void consume(Stream& s, size_t n) override { session_->consume(s, n); }
  void abort(Stream& s) override { session_->abort(s); }
  void release(Stream& s) override { session_->release(s); }
  void drain() override { session_->drain(); }

 protected:
  explicit SessionTransport(std::unique_ptr<Session> session = nullptr)
      : session_(std::move(session)) {}
  ~SessionTransport() = default;
  std::unique_ptr<Session> session_;
};

class StreamExchange final : public Exchange, private StreamObserver {
 public:
  // protocol: "h2" or "h3", what Exchange::protocol() reports.
  StreamExchange(StreamTransport& conn, Stream& stream, std::string remote,
                 std::string_view protocol);
  ~StreamExchange() override;
  StreamExchange(const StreamExchange&) = delete;
  StreamExchange& operator=(const StreamExchange&) = delete;

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
  awaitable<void> respond_with(Head head, BodySource body);
  awaitable<bool> send_part(BodySource part);
  Error read_error(std::string_view what) const;
  void release();

  StreamTransport& c_;
  Stream* s_;  // null once released
  Wakeup wake_;
  bool continue_sent_ = false;
  bool streaming_ = false;
};

}  // namespace shoal::http::mux
