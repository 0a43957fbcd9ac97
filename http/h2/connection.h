// One HTTP/2 connection over TLS: the Asio driver around a sans-I/O h2::Session. A
// reader feeds the session what arrives, a writer sends what it produces in batches,
// and each request runs its handler as its own coroutine. All of them share the
// connection's strand, so the session needs no locks. Internal to core's HTTP server.
#pragma once

#include <memory>
#include <string>

#include "http/h2/session.h"
#include "http/h1/connection.h"
#include "http/mux/stream_exchange.h"

namespace shoal::http::detail {

// Serves a connection whose client chose "h2" by ALPN until it closes.
awaitable<void> serve_h2(TlsStream stream, ConnectionContext ctx, std::string remote);

h2::SessionOptions h2_session_options(const ServerOptions& o);

class H2Connection final : public std::enable_shared_from_this<H2Connection>,
                           public mux::SessionTransport<h2::Session> {
 public:
  H2Connection(TlsStream stream, ConnectionContext ctx, std::string remote,
               std::unique_ptr<h2::Session> session);
  // Returns when the connection is closed and every handler has finished.
  awaitable<void> run();

  // The rest of mux::StreamTransport, for the exchanges (all on the strand).
  void flush() override;
  bool alive() const override { return !closing_; }
  const ServerOptions& opts() const override { return ctx_.opts; }
  asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  awaitable<bool> read_loop();
  awaitable<void> write_loop(std::shared_ptr<H2Connection> self);
  awaitable<bool> write_batch();
  awaitable<void> idle_watch(std::shared_ptr<H2Connection> self);
  awaitable<void> serve_stream(std::shared_ptr<H2Connection> self, mux::Stream* stream);
  awaitable<void> linger();
  void spawn_handlers();
  bool reading_paused() const;
  void close_down();
  void drop();  // closes the socket at once

  TlsStream stream_;
  ConnectionContext ctx_;
  std::string remote_;
  h2::WriteBuffer out_;
  mux::Wakeup writer_wake_;
  mux::Wakeup read_gate_;
  mux::Wakeup done_wake_;
  asio::steady_timer write_timer_;
  asio::steady_timer idle_timer_;
  size_t handlers_ = 0;
  uint64_t write_seq_ = 0;
  bool writing_ = false;
  bool writer_done_ = false;
  bool closing_ = false;  // no more output from handlers; the writer sends what is queued
  bool dead_ = false;     // the socket is closed
  mux::Clock::time_point last_active_;
};

}  // namespace shoal::http::detail
