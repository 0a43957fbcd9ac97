#include "http/h1/connection.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include "core/file_io.h"
#include "http/alpn.h"
#include "http/h2/connection.h"
#include "core/log.h"

namespace shoal::http::detail {
namespace {

using Parser = bhttp::request_parser<bhttp::buffer_body>;
constexpr size_t kDrainLimit = 64 * 1024;     // unread body we still drain to keep the connection
constexpr size_t kFileChunk = 16u << 20;      // per sendfile(2) call
constexpr size_t kTlsChunk = 256u << 10;      // per TLS record batch from a file
constexpr size_t kCoalesceLimit = 64u << 10;  // bodies copied behind their head for one write

// "HTTP/1.1 200 OK\r\n" and the fields, as Beast's serializer would write them,
// without its per-buffer iteration: most responses of a cache are small.
void serialize_head(const Head& head, bool close, std::string& out) {
  out.clear();
  out.append("HTTP/1.1 ");
  out.append(std::to_string(head.result_int()));
  out.push_back(' ');
  auto reason = head.reason();
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  for (const auto& f : head) {
    if (f.name() == bhttp::field::connection) continue;
    out.append(f.name_string().data(), f.name_string().size());
    out.append(": ");
    out.append(f.value().data(), f.value().size());
    out.append("\r\n");
  }
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
}

// A request the client did send but that does not parse (as opposed to a closed,
// reset or timed-out connection, which gets no answer).
bool is_parse_error(const beast::error_code& ec) {
  static const auto& category = beast::error_code(bhttp::error::end_of_stream).category();
  return ec.category() == category && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message;
}

bool is_tls_eof(const beast::error_code& ec) {
  return ec == asio::ssl::error::stream_truncated || ec == asio::error::eof;
}

template <class Stream>
class Connection;

template <class Stream>
class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(Connection<Stream>& conn, Parser& parser, std::string remote);

  awaitable<Result<size_t>> read_body(std::span<char> buf) override;
  awaitable<void> respond(Head head, std::string_view body) override;
  awaitable<void> respond_file(Head head, int fd, uint64_t offset, uint64_t length) override;
  awaitable<bool> start_body(Head head, uint64_t length) override;
  awaitable<bool> send_file_part(int fd, uint64_t offset, uint64_t length) override;

  // A streamed body left short must close: the client cannot tell otherwise.
  bool keep_alive() const { return !close_ && (!streaming_ || sent_ == declared_); }
  awaitable<void> finish_body();

 private:
  awaitable<Result<size_t>> read_fixed(std::span<char> buf);
  awaitable<Result<size_t>> read_chunked(std::span<char> buf);
  void prepare_head(Head& head, uint64_t content_length);
  awaitable<bool> send_head(Head& head, uint64_t content_length);
  // Both return how many of the `length` bytes went out (fewer: the client is gone).
  awaitable<uint64_t> send_file_range(int fd, uint64_t offset, uint64_t length);
  awaitable<uint64_t> send_file_plain(int fd, uint64_t offset, uint64_t length);
  awaitable<uint64_t> send_file_buffered(int fd, uint64_t offset, uint64_t length);
  bool body_complete() const;
  Error read_error(const beast::error_code& ec) const;

  Connection<Stream>& c_;
  Parser& parser_;
  bool continue_sent_ = false;
  bool streaming_ = false;
  bool write_failed_ = false;  // the client is gone: nothing more can be sent
  uint64_t declared_ = 0;
};

template <class Stream>
class Connection {
 public:
  Connection(Stream stream, ConnectionContext ctx, std::string remote)
      : stream_(std::move(stream)), ctx_(ctx), remote_(std::move(remote)) {}

  awaitable<void> run();
  Stream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buf_; }
  std::string& scratch() { return scratch_; }
  const ServerOptions& opts() const { return ctx_.opts; }
  void arm(std::chrono::milliseconds t) { beast::get_lowest_layer(stream_).expires_after(t); }
  awaitable<void> write_raw(std::string_view bytes, beast::error_code& ec);

 private:
  awaitable<bool> serve_one();
  awaitable<void> reject(bhttp::status status, std::string_view code, std::string_view msg);
  awaitable<void> shutdown();

  Stream stream_;
  ConnectionContext ctx_;
  std::string remote_;
  beast::flat_buffer buf_;
  std::string scratch_;  // a response head (and small body) being written
};

// ---- Exchange --------------------------------------------------------------

template <class Stream>
ExchangeImpl<Stream>::ExchangeImpl(Connection<Stream>& conn, Parser& parser, std::string remote)
    : Exchange(parser.get().base(), std::move(remote)), c_(conn), parser_(parser) {
  chunked_ = parser.chunked();
  if (auto len = parser.content_length()) content_length_ = *len;
}

template <class Stream>
bool ExchangeImpl<Stream>::body_complete() const {
  if (chunked_) return parser_.is_done();
  return body_read_ >= content_length_.value_or(0);
}

template <class Stream>
Error ExchangeImpl<Stream>::read_error(const beast::error_code& ec) const {
  std::string got = std::to_string(body_read_) + " body bytes";
  if (ec == beast::error::timeout) return Error(Errc::timed_out, "client stalled after " + got);
  return Error(Errc::io_error, "client connection lost after " + got + ": " + ec.message());
}

template <class Stream>
awaitable<Result<size_t>> ExchangeImpl<Stream>::read_body(std::span<char> buf) {
  if (body_complete() || buf.empty()) co_return size_t{0};
  if (!continue_sent_ &&
      beast::iequals(std::string(header(bhttp::field::expect)), "100-continue")) {
    continue_sent_ = true;
    beast::error_code ec;
    co_await c_.write_raw("HTTP/1.1 100 Continue\r\n\r\n", ec);
    if (ec) co_return read_error(ec);
  }
  if (chunked_) co_return co_await read_chunked(buf);
  co_return co_await read_fixed(buf);
}

template <class Stream>
awaitable<Result<size_t>> ExchangeImpl<Stream>::read_fixed(std::span<char> buf) {
  // Past the head the body is read straight from the socket into the caller's buffer:
  // no copy through the parser.
  uint64_t want = std::min<uint64_t>(buf.size(), *content_length_ - body_read_);
  auto& pending = c_.buffer();
  size_t n = 0;
  if (pending.size() > 0) {
    n = asio::buffer_copy(asio::buffer(buf.data(), want), pending.data());
    pending.consume(n);
  } else {
    beast::error_code ec;
    c_.arm(c_.opts().read_timeout);
    n = co_await c_.stream().async_read_some(asio::buffer(buf.data(), want),
                                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      close_ = true;
      co_return read_error(ec);
    }
  }
  body_read_ += n;
  co_return n;
}

template <class Stream>
awaitable<Result<size_t>> ExchangeImpl<Stream>::read_chunked(std::span<char> buf) {
  while (!parser_.is_done()) {
    auto& body = parser_.get().body();
    body.data = buf.data();
    body.size = buf.size();
    beast::error_code ec;
    c_.arm(c_.opts().read_timeout);
    co_await bhttp::async_read_some(c_.stream(), c_.buffer(), parser_,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec && ec != bhttp::error::need_buffer) {
      close_ = true;
      if (is_parse_error(ec))
        co_return Error(Errc::bad_request, "malformed chunked body: " + ec.message());
      co_return read_error(ec);
    }
    size_t n = buf.size() - parser_.get().body().size;
    if (n > 0) {
      body_read_ += n;
      co_return n;
    }
  }
  co_return size_t{0};
}

template <class Stream>
awaitable<void> ExchangeImpl<Stream>::finish_body() {
  // Keep the connection only if what is left of the body is small enough to drain.
  if (body_complete() || close_) co_return;
  if (!chunked_ && *content_length_ - body_read_ > kDrainLimit) {
    close_ = true;
    co_return;
  }
  std::vector<char> sink(16 * 1024);
  uint64_t drained = 0;
  while (!body_complete() && drained <= kDrainLimit) {
    auto n = co_await read_body(sink);
    if (!n || *n == 0) break;
    drained += *n;
  }
  if (!body_complete()) close_ = true;
}

template <class Stream>
void ExchangeImpl<Stream>::prepare_head(Head& head, uint64_t content_length) {
  responded_ = true;
  status_ = head.result();
  head.version(11);
  head.set(bhttp::field::server, c_.opts().server_name);
  apply_extra_headers(head);
  // RFC 9110: no Content-Length on 204; on 304 it would describe the representation.
  if (status_ != bhttp::status::no_content && status_ != bhttp::status::not_modified) {
    head.set(bhttp::field::content_length, std::to_string(content_length));
  }
  if (!parser_.keep_alive() ||
      (!body_complete() && !chunked_ && *content_length_ - body_read_ > kDrainLimit)) {
    close_ = true;
  }
}

template <class Stream>
awaitable<bool> ExchangeImpl<Stream>::send_head(Head& head, uint64_t content_length) {
  prepare_head(head, content_length);
  bhttp::response<bhttp::empty_body> msg(std::move(head));
  msg.keep_alive(!close_);
  bhttp::response_serializer<bhttp::empty_body> sr(msg);
  beast::error_code ec;
  c_.arm(c_.opts().read_timeout);
  co_await bhttp::async_write_header(c_.stream(), sr,
                                     asio::redirect_error(asio::use_awaitable, ec));
  if (ec) close_ = write_failed_ = true;
  co_return !ec && req_.method() != bhttp::verb::head;
}

template <class Stream>
awaitable<void> ExchangeImpl<Stream>::respond(Head head, std::string_view body) {
  if (body.empty() || req_.method() == bhttp::verb::head) {
    co_await send_head(head, body.size());
    co_return;
  }
  // Head and body in one write: one system call (and, under TLS, one record) per
  // small response. The head is serialized into the connection's reused buffer.
  prepare_head(head, body.size());
  std::string& out = c_.scratch();
  serialize_head(head, close_, out);
  beast::error_code ec;
  c_.arm(c_.opts().read_timeout);
  if (body.size() <= kCoalesceLimit) {
    out.append(body);
    co_await asio::async_write(c_.stream(), asio::buffer(out),
                               asio::redirect_error(asio::use_awaitable, ec));
  } else {
    std::array<asio::const_buffer, 2> parts{asio::buffer(out),
                                            asio::buffer(body.data(), body.size())};
    co_await asio::async_write(c_.stream(), parts, asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec)
    close_ = true;
  else
    sent_ += body.size();
}

template <class Stream>
awaitable<void> ExchangeImpl<Stream>::respond_file(Head head, int fd, uint64_t offset,
                                                   uint64_t length) {
  bool send_body = co_await send_head(head, length);
  if (!send_body || length == 0) co_return;
  uint64_t done = co_await send_file_range(fd, offset, length);
  if (done < length) close_ = true;  // the client cannot tell a short body otherwise
}

template <class Stream>
awaitable<bool> ExchangeImpl<Stream>::start_body(Head head, uint64_t length) {
  bool send_body = co_await send_head(head, length);
  if (!send_body) co_return false;
  streaming_ = true;
  declared_ = length;
  // close_ may only mean the client asked for "Connection: close": the body still goes.
  co_return !write_failed_;
}

template <class Stream>
awaitable<bool> ExchangeImpl<Stream>::send_file_part(int fd, uint64_t offset, uint64_t length) {
  if (!streaming_ || write_failed_ || length > declared_ - sent_) co_return false;
  uint64_t done = co_await send_file_range(fd, offset, length);
  if (done < length) close_ = write_failed_ = true;
  co_return done == length;
}

template <class Stream>
awaitable<uint64_t> ExchangeImpl<Stream>::send_file_range(int fd, uint64_t offset,
                                                          uint64_t length) {
  // A plain if: g++ 12 under -fsanitize mis-resumes coroutines whose co_await sits in
  // an `if constexpr` branch. Both functions compile for both stream types.
  uint64_t done = 0;
  if (std::is_same_v<Stream, PlainStream>) {
    done = co_await send_file_plain(fd, offset, length);
  } else {
    done = co_await send_file_buffered(fd, offset, length);
  }
  co_return done;
}

template <class Stream>
awaitable<uint64_t> ExchangeImpl<Stream>::send_file_plain(int fd, uint64_t offset,
                                                          uint64_t length) {
  auto& sock = beast::get_lowest_layer(c_.stream()).socket();
  sock.native_non_blocking(true);
  auto off = static_cast<off_t>(offset);
  uint64_t done = 0;
  while (done < length) {
    size_t want = std::min<uint64_t>(kFileChunk, length - done);
    ssize_t n = ::sendfile(sock.native_handle(), fd, &off, want);
    if (n > 0) {
      done += static_cast<uint64_t>(n);
      sent_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) break;  // file shrank or socket failed
    // Wait until writable, bounded by the timeout: the timer cancels the wait.
    asio::steady_timer timer(sock.get_executor());
    timer.expires_after(c_.opts().read_timeout);
    timer.async_wait([&sock](beast::error_code ec) {
      if (!ec) sock.cancel();
    });
    beast::error_code ec;
    co_await sock.async_wait(tcp::socket::wait_write,
                             asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (ec) break;
  }
  co_return done;
}

template <class Stream>
awaitable<uint64_t> ExchangeImpl<Stream>::send_file_buffered(int fd, uint64_t offset,
                                                             uint64_t length) {
  std::vector<char> buf(std::min<uint64_t>(kTlsChunk, length));
  uint64_t done = 0;
  while (done < length) {
    size_t want = std::min<uint64_t>(buf.size(), length - done);
    auto n = pread_some(fd, buf.data(), want, offset + done);
    if (!n || *n == 0) break;
    beast::error_code ec;
    co_await c_.write_raw(std::string_view(buf.data(), *n), ec);
    if (ec) break;
    done += *n;
    sent_ += *n;
  }
  co_return done;
}

// ---- Connection ------------------------------------------------------------

template <class Stream>
awaitable<void> Connection<Stream>::write_raw(std::string_view bytes, beast::error_code& ec) {
  arm(ctx_.opts.read_timeout);
  co_await asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
}

template <class Stream>
awaitable<void> Connection<Stream>::reject(bhttp::status status, std::string_view code,
                                           std::string_view msg) {
  std::string body =
      R"({"error":")" + std::string(code) + R"(","message":")" + std::string(msg) + "\"}";
  bhttp::response<bhttp::string_body> res(status, 11);
  res.set(bhttp::field::server, ctx_.opts.server_name);
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = std::move(body);
  res.prepare_payload();
  beast::error_code ec;
  arm(ctx_.opts.read_timeout);
  co_await bhttp::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
}

// Between requests a TLS connection gives back what a large response grew.
void release_buffers(PlainStream&) {}
void release_buffers(TlsStream& stream) { stream.release_buffers(); }

template <class Stream>
awaitable<bool> Connection<Stream>::serve_one() {
  release_buffers(stream_);
  Parser parser;
  parser.header_limit(ctx_.opts.max_header_size);
  // Handlers enforce their own limits while streaming. Not boost::none: Beast 1.74
  // compares the Content-Length against the empty optional and rejects every body.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  arm(buf_.size() > 0 ? ctx_.opts.read_timeout : ctx_.opts.idle_timeout);
  beast::error_code ec;
  co_await bhttp::async_read_header(stream_, buf_, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec == bhttp::error::header_limit) {
    co_await reject(bhttp::status::request_header_fields_too_large, "HEADERS_TOO_LARGE",
                    "request head is over max_header_size");
    co_return false;
  }
  if (is_parse_error(ec)) {
    co_await reject(bhttp::status::bad_request, "BAD_REQUEST",
                    "malformed HTTP request: " + ec.message());
    co_return false;
  }
  if (ec) co_return false;  // closed, timed out or reset: nothing to answer

  ExchangeImpl<Stream> ex(*this, parser, remote_);
  if (!ctx_.alt_svc.empty()) ex.add_response_header("alt-svc", std::string(ctx_.alt_svc));
  try {
    co_await ctx_.handler(ex);
  } catch (const std::exception& e) {
    log::error("handler failed", {{"error", e.what()}, {"path", ex.path()}});
    ex.close_connection();
  }
  if (!ex.responded()) {
    co_await ex.respond_error(bhttp::status::internal_server_error, "INTERNAL", "internal error");
  }
  co_await ex.finish_body();
  co_return ex.keep_alive();
}

// Overloads rather than `if constexpr` around co_await (see respond_file).
awaitable<void> close_tls(PlainStream&) { co_return; }


awaitable<void> close_tls(TlsStream& stream) {
  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(1000));
  co_await stream.shutdown(ec);
}

template <class Stream>
awaitable<void> Connection<Stream>::shutdown() {
  co_await close_tls(stream_);
  beast::error_code ec;
  beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
}

template <class Stream>
awaitable<void> Connection<Stream>::run() {
  try {
    for (;;) {
      bool keep_alive = co_await serve_one();
      if (!keep_alive) break;
    }
    co_await shutdown();
  } catch (const std::exception& e) {
    log::warn("connection failed", {{"remote", remote_}, {"error", e.what()}});
  }
}

std::string describe(const tcp::socket& s) {
  beast::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

awaitable<void> serve_plain(tcp::socket socket, ConnectionContext ctx) {
  socket.set_option(tcp::no_delay(true));
  std::string remote = describe(socket);
  Connection<PlainStream> conn(PlainStream(std::move(socket)), ctx, std::move(remote));
  co_await conn.run();
}

awaitable<void> serve_tls(tcp::socket socket, asio::ssl::context& tls, ConnectionContext ctx) {
  socket.set_option(tcp::no_delay(true));
  std::string remote = describe(socket);
  TlsStream stream(PlainStream(std::move(socket)), tls);
  beast::get_lowest_layer(stream).expires_after(ctx.opts.read_timeout);
  beast::error_code ec;
  co_await stream.handshake(ec);
  if (ec) {
    if (!is_tls_eof(ec))
      log::debug("TLS handshake failed", {{"remote", remote}, {"error", ec.message()}});
    co_return;
  }
  if (negotiated_h2(stream.native_handle())) {
    co_await serve_h2(std::move(stream), ctx, std::move(remote));
    co_return;
  }
  Connection<TlsStream> conn(std::move(stream), ctx, std::move(remote));
  co_await conn.run();
}

}  // namespace shoal::http::detail
