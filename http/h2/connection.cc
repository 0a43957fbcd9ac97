#include "http/h2/connection.h"

#include <nghttp2/nghttp2.h>

#include <vector>

#include "core/log.h"

namespace shoal::http::detail {
namespace {

using mux::Clock;

// Frames the session writes at a time: enough to amortise a call over many small
// responses, small enough to keep memory per connection low.
constexpr size_t kBatch = 64 * 1024;
// Ciphertext gathered from several batches before one write to the socket: fewer
// system calls and wake-ups of the client per byte while a large body flows.
constexpr size_t kFlushAt = 256 * 1024;
// One TLS record holds at most 16 KiB of plaintext, so a read returns no more.
constexpr size_t kReadBuffer = 16 * 1024;
// How long and how much a closing connection still reads (and discards).
constexpr std::chrono::seconds kLinger{1};
constexpr size_t kLingerBytes = 1u << 20;

}  // namespace

h2::SessionOptions h2_session_options(const ServerOptions& o) {
  h2::SessionOptions s;
  s.max_concurrent_streams = o.max_concurrent_streams;
  s.stream_window = o.h2_stream_window;
  s.connection_window = o.h2_connection_window;
  s.max_header_list = o.max_header_size;
  s.flood.resets_per_second = o.h2_max_resets_per_second;
  s.flood.control_per_second = o.h2_max_control_frames_per_second;
  s.server_name = o.server_name;
  return s;
}

awaitable<void> serve_h2(TlsStream stream, ConnectionContext ctx, std::string remote) {
  // The handshake's deadline must not cut the connection: timeouts are ours from here.
  beast::get_lowest_layer(stream).expires_never();
  auto session = h2::Session::create(h2_session_options(ctx.opts));
  if (!session) {
    log::warn("HTTP/2 session failed", {{"remote", remote}, {"error", session.error().message}});
    co_return;
  }
  auto conn = std::make_shared<H2Connection>(std::move(stream), ctx, std::move(remote),
                                             std::move(*session));
  co_await conn->run();
}

H2Connection::H2Connection(TlsStream stream, ConnectionContext ctx, std::string remote,
                           std::unique_ptr<h2::Session> session)
    : mux::SessionTransport<h2::Session>(std::move(session)),
      stream_(std::move(stream)),
      ctx_(ctx),
      remote_(std::move(remote)),
      out_(kBatch + h2::Session::kFrameRoom),
      writer_wake_(stream_.get_executor()),
      read_gate_(stream_.get_executor()),
      done_wake_(stream_.get_executor()),
      write_timer_(stream_.get_executor()),
      idle_timer_(stream_.get_executor()),
      last_active_(Clock::now()) {}

awaitable<void> H2Connection::run() {
  auto self = shared_from_this();
  asio::co_spawn(executor(), write_loop(self), asio::detached);
  asio::co_spawn(executor(), idle_watch(self), asio::detached);
  bool socket_ok = co_await read_loop();
  if (!socket_ok) drop();
  close_down();
  while (!writer_done_) co_await done_wake_.wait();
  if (!dead_) co_await linger();
  drop();
  while (handlers_ > 0) co_await done_wake_.wait();
}

void H2Connection::flush() {
  if (session_->want_write()) writer_wake_.notify();
}

// Returns whether the socket is still fine (the session ended the connection).
awaitable<bool> H2Connection::read_loop() {
  std::vector<uint8_t> buf(kReadBuffer);
  for (;;) {
    while (reading_paused()) co_await read_gate_.wait();
    if (closing_) co_return !dead_;
    if (!session_->want_read()) co_return true;
    beast::error_code ec;
    size_t n = co_await stream_.read_some(asio::buffer(buf), ec);
    if (ec) co_return !dead_ && !session_->want_read() && !session_->want_write();
    auto ok = session_->receive(std::span<const uint8_t>(buf.data(), n), Clock::now());
    spawn_handlers();
    flush();
    if (!ok) {
      log::info("HTTP/2 connection closed", {{"remote", remote_}, {"reason", ok.error().message}});
      co_return true;
    }
  }
}

// Handlers of reset streams still run after nghttp2 has forgotten them, so its
// stream limit does not bound them: a client resetting and reopening streams could
// start handlers without end. Past the limit, no more requests are read until some
// of them finish.
bool H2Connection::reading_paused() const {
  return !closing_ && handlers_ >= opts().max_concurrent_streams && session_->zombies() > 0;
}

void H2Connection::spawn_handlers() {
  for (mux::Stream* stream : session_->take_ready()) {
    // Only reachable with handlers of reset streams still running (nghttp2 refuses
    // streams past the limit itself): the cap holds whatever the client does.
    if (handlers_ >= opts().max_concurrent_streams) {
      session_->refuse(*stream);
      continue;
    }
    ++handlers_;
    asio::co_spawn(executor(), serve_stream(shared_from_this(), stream), asio::detached);
  }
}

awaitable<void> H2Connection::serve_stream([[maybe_unused]] std::shared_ptr<H2Connection> self,
                                           mux::Stream* stream) {
  {
    mux::StreamExchange ex(*this, *stream, remote_, "h2");
    if (!ctx_.alt_svc.empty()) ex.add_response_header("alt-svc", std::string(ctx_.alt_svc));
    try {
      co_await ctx_.handler(ex);
    } catch (const std::exception& e) {
      log::error("handler failed", {{"error", e.what()}, {"path", ex.path()}});
    }
    co_await ex.finish();
  }
  --handlers_;
  last_active_ = Clock::now();
  read_gate_.notify();
  done_wake_.notify();
}

awaitable<void> H2Connection::write_loop([[maybe_unused]] std::shared_ptr<H2Connection> self) {
  while (!dead_) {
    out_.clear();
    auto ok = session_->send(out_, kBatch, Clock::now());
    if (!ok) {
      log::info("HTTP/2 connection closed", {{"remote", remote_}, {"reason", ok.error().message}});
      break;
    }
    if (!out_.empty()) {
      beast::error_code ec;
      stream_.encrypt(std::span<const uint8_t>(out_.data(), out_.size()), ec);
      if (ec) {
        drop();
        break;
      }
      if (stream_.unsent() < kFlushAt) continue;  // the session may have more frames
    }
    if (stream_.unsent() > 0) {
      bool written = co_await write_batch();
      if (!written) break;
      continue;
    }
    if (closing_ || (!session_->want_read() && !session_->want_write())) break;
    stream_.release_buffers();
    co_await writer_wake_.wait();
    // Handlers woken by the same event run first, so one write carries all they queue.
    co_await asio::post(executor(), asio::use_awaitable);
  }
  // What was encrypted before the session ended (a GOAWAY) still goes.
  if (!dead_ && stream_.unsent() > 0) co_await write_batch();
  writer_done_ = true;
  // A finished session (GOAWAY exchanged) needs nothing more from the reader.
  if (!dead_) beast::get_lowest_layer(stream_).cancel();
  done_wake_.notify();
}

awaitable<bool> H2Connection::write_batch() {
  writing_ = true;
  uint64_t seq = ++write_seq_;
  // A client that stops reading would otherwise hold the connection and its buffers.
  write_timer_.expires_after(opts().read_timeout);
  write_timer_.async_wait([self = shared_from_this(), seq](beast::error_code ec) {
    if (!ec && self->writing_ && self->write_seq_ == seq) self->drop();
  });
  beast::error_code ec;
  co_await stream_.flush(ec);
  writing_ = false;
  write_timer_.cancel();
  if (ec) {
    drop();
    co_return false;
  }
  co_return true;
}

awaitable<void> H2Connection::idle_watch([[maybe_unused]] std::shared_ptr<H2Connection> self) {
  const auto idle = opts().idle_timeout;
  while (!closing_) {
    idle_timer_.expires_at(last_active_ + idle);
    beast::error_code ec;
    co_await idle_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (closing_) break;
    if (handlers_ > 0 || writing_) {
      last_active_ = Clock::now();
      continue;
    }
    if (Clock::now() - last_active_ >= idle) {
      session_->shutdown(NGHTTP2_NO_ERROR);  // GOAWAY, then the writer ends the session
      flush();
      break;
    }
  }
}

// Closing a socket with unread input makes the kernel answer with a reset, which can
// destroy our GOAWAY before the client reads it; a flooding client is still sending.
// So: half-close, then read and discard for a moment before closing. No TLS
// close_notify: after GOAWAY it adds nothing, and TLS would wait for the client's.
awaitable<void> H2Connection::linger() {
  auto& tcp = beast::get_lowest_layer(stream_);
  beast::error_code ec;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
  tcp.expires_after(kLinger);
  std::vector<char> sink(kReadBuffer);
  for (size_t total = 0; !ec && total < kLingerBytes;) {
    total += co_await tcp.async_read_some(asio::buffer(sink),
                                          asio::redirect_error(asio::use_awaitable, ec));
  }
}

// No more output from handlers: they see alive() false and stop; the writer sends
// what is queued (RST_STREAM, GOAWAY) and ends.
void H2Connection::close_down() {
  closing_ = true;
  idle_timer_.cancel();
  writer_wake_.notify();
  read_gate_.notify();
  session_->notify_all();
}

void H2Connection::drop() {
  if (dead_) return;
  dead_ = true;
  beast::get_lowest_layer(stream_).close();
  write_timer_.cancel();
  done_wake_.notify();
  close_down();
}

}  // namespace shoal::http::detail
