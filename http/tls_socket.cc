#include "http/tls_socket.h"

#include <openssl/err.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>

namespace shoal::http::detail {

namespace {

// Ciphertext read from the socket per call: two full records, so an upload arrives in
// large reads while an idle connection holds little.
constexpr size_t kInBuffer = 34 * 1024;
// Plaintext encrypted before the records go out: bounds the output buffer.
constexpr size_t kWriteChunk = 256 * 1024;
// Output buffer capacity an idle connection keeps: small responses never regrow it.
constexpr size_t kIdleCapacity = 32 * 1024;

}  // namespace

struct TlsSocket::State {
  State(beast::tcp_stream t, SSL* s)
      : tcp(std::move(t)), ssl(s), flushed(tcp.get_executor()), in(kInBuffer) {}
  ~State() { SSL_free(ssl); }

  beast::tcp_stream tcp;
  SSL* ssl;
  asio::steady_timer flushed;  // wakes a writer waiting behind another's flush
  std::vector<uint8_t> in;     // ciphertext read, not yet taken by OpenSSL: [in_begin, in_end)
  size_t in_begin = 0;
  size_t in_end = 0;
  bool read_eof = false;
  std::vector<uint8_t> out;      // records made, not yet handed to the socket
  std::vector<uint8_t> sending;  // records being written
  bool flushing = false;
  beast::error_code write_error;  // sticky: the socket cannot take more

  size_t buffered() const { return in_end - in_begin; }
};

namespace {

using State = TlsSocket::State;

// The BIO OpenSSL reads ciphertext from and writes records to: State's buffers.
int bio_write(BIO* bio, const char* data, int len) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // As bytes of the vector's own type, so the copy is one memcpy and not a conversion
  // of each byte.
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  const size_t need = s->out.size() + static_cast<size_t>(len);
  // A buffer given back while idle regrows in one step, not by doubling from small
  // (each doubling copies what it holds).
  if (need > s->out.capacity() && need > kIdleCapacity) {
    s->out.reserve(std::max(need, kWriteChunk + kWriteChunk / 4));
  }
  s->out.insert(s->out.end(), bytes, bytes + len);
  return len;
}

int bio_read(BIO* bio, char* data, int len) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  size_t n = std::min(s->buffered(), static_cast<size_t>(len));
  if (n == 0) {
    if (s->read_eof) return 0;
    BIO_set_retry_read(bio);
    return -1;
  }
  std::memcpy(data, s->in.data() + s->in_begin, n);
  s->in_begin += n;
  return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(s->buffered());
    case BIO_CTRL_WPENDING:
      return static_cast<long>(s->out.size());
    case BIO_CTRL_EOF:
      return s->read_eof && s->buffered() == 0;
    default:
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "shoal-tls");
    if (!m) throw std::bad_alloc();
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

// What a failed SSL call means, in the codes Asio's ssl::stream used, so callers that
// tell a client's clean close from a failure keep working.
beast::error_code failure(const State& s, int err) {
  unsigned long first = ERR_peek_error();
  ERR_clear_error();
  if (err == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  if (s.read_eof) return asio::ssl::error::stream_truncated;
  if (s.write_error) return s.write_error;
  if (err == SSL_ERROR_SSL && first != 0) {
    if (ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      return asio::ssl::error::stream_truncated;
    }
    return {static_cast<int>(first), asio::error::get_ssl_category()};
  }
  return asio::ssl::error::unexpected_result;
}

// Hands every record made so far to the socket. A second caller waits for the first's
// write and then sends what was added meanwhile, so records leave in order.
awaitable<void> flush(State& s, beast::error_code& ec) {
  while (!s.out.empty() || s.flushing) {
    if (s.write_error) break;
    if (s.flushing) {
      s.flushed.expires_at(asio::steady_timer::time_point::max());
      beast::error_code ignored;
      co_await s.flushed.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      continue;
    }
    s.flushing = true;
    s.sending.swap(s.out);
    beast::error_code wec;
    co_await asio::async_write(s.tcp, asio::buffer(s.sending),
                               asio::redirect_error(asio::use_awaitable, wec));
    s.sending.clear();
    s.flushing = false;
    s.flushed.cancel();
    if (wec) s.write_error = wec;
  }
  if (s.write_error) ec = s.write_error;
}

// Reads more ciphertext from the socket for OpenSSL.
awaitable<void> fill(State& s, beast::error_code& ec) {
  if (s.read_eof) {
    ec = asio::ssl::error::stream_truncated;
    co_return;
  }
  if (s.in_begin == s.in_end) s.in_begin = s.in_end = 0;
  if (s.in_end == s.in.size()) {
    std::memmove(s.in.data(), s.in.data() + s.in_begin, s.buffered());
    s.in_end -= s.in_begin;
    s.in_begin = 0;
  }
  beast::error_code rec;
  size_t n = co_await s.tcp.async_read_some(
      asio::buffer(s.in.data() + s.in_end, s.in.size() - s.in_end),
      asio::redirect_error(asio::use_awaitable, rec));
  s.in_end += n;
  if (rec == asio::error::eof) {
    s.read_eof = true;  // OpenSSL decides whether that was a clean end
  } else if (rec) {
    ec = rec;
  }
}

awaitable<size_t> read_some(State& s, asio::mutable_buffer buf, beast::error_code& ec) {
  if (buf.size() == 0) co_return 0;
  int want = static_cast<int>(std::min<size_t>(buf.size(), INT_MAX));
  for (;;) {
    ERR_clear_error();
    int r = SSL_read(s.ssl, buf.data(), want);
    int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(s.ssl, r);
    // Reading can make records of its own (a KeyUpdate's answer).
    if (!s.out.empty()) {
      beast::error_code fec;
      co_await flush(s, fec);
    }
    if (r > 0) co_return static_cast<size_t>(r);
    if (err != SSL_ERROR_WANT_READ) {
      ec = failure(s, err);
      co_return 0;
    }
    co_await fill(s, ec);
    if (ec) co_return 0;
  }
}

// Every byte or ec; returns the bytes taken.
size_t encrypt(State& s, const uint8_t* p, size_t left, beast::error_code& ec) {
  size_t taken = 0;
  while (left > 0) {
    ERR_clear_error();
    int r = SSL_write(s.ssl, p, static_cast<int>(std::min<size_t>(left, INT_MAX)));
    if (r <= 0) {
      ec = failure(s, SSL_get_error(s.ssl, r));
      break;
    }
    p += r;
    left -= static_cast<size_t>(r);
    taken += static_cast<size_t>(r);
  }
  return taken;
}

awaitable<size_t> write(State& s, std::span<const asio::const_buffer> parts,
                        beast::error_code& ec) {
  size_t taken = 0;
  size_t unflushed = 0;
  for (const asio::const_buffer& part : parts) {
    auto* p = static_cast<const uint8_t*>(part.data());
    size_t left = part.size();
    while (left > 0) {
      size_t n = encrypt(s, p, std::min(left, kWriteChunk - unflushed), ec);
      taken += n;
      if (ec) co_return taken;
      p += n;
      left -= n;
      unflushed += n;
      if (unflushed == kWriteChunk) {
        co_await flush(s, ec);
        if (ec) co_return taken;
        unflushed = 0;
      }
    }
  }
  co_await flush(s, ec);
  co_return taken;
}

}  // namespace

TlsSocket::TlsSocket(beast::tcp_stream tcp, asio::ssl::context& ctx) {
  SSL* ssl = SSL_new(ctx.native_handle());
  if (!ssl) throw std::bad_alloc();
  s_ = std::make_unique<State>(std::move(tcp), ssl);
  BIO* bio = BIO_new(bio_method());
  if (!bio) throw std::bad_alloc();
  BIO_set_data(bio, s_.get());
  SSL_set_bio(ssl, bio, bio);
  SSL_set_accept_state(ssl);
  // Renegotiation would make a write wait for a read, which this socket never does.
  SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
  SSL_set_read_ahead(ssl, 1);
}

TlsSocket::TlsSocket(TlsSocket&&) noexcept = default;
TlsSocket& TlsSocket::operator=(TlsSocket&&) noexcept = default;
TlsSocket::~TlsSocket() = default;

TlsSocket::executor_type TlsSocket::get_executor() { return s_->tcp.get_executor(); }
beast::tcp_stream& TlsSocket::next_layer() { return s_->tcp; }
SSL* TlsSocket::native_handle() { return s_->ssl; }

awaitable<void> TlsSocket::handshake(beast::error_code& ec) {
  State& s = *s_;
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(s.ssl);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s.ssl, r);
    beast::error_code fec;
    co_await detail::flush(s, fec);  // our flight, or the alert that says why we gave up
    if (r == 1) {
      ec = fec;
      co_return;
    }
    if (err != SSL_ERROR_WANT_READ) {
      ec = failure(s, err);
      co_return;
    }
    if (fec) {
      ec = fec;
      co_return;
    }
    co_await fill(s, ec);
    if (ec) co_return;
  }
}

awaitable<size_t> TlsSocket::read_some(asio::mutable_buffer buf, beast::error_code& ec) {
  return detail::read_some(*s_, buf, ec);
}

awaitable<size_t> TlsSocket::write(std::span<const asio::const_buffer> parts,
                                   beast::error_code& ec) {
  return detail::write(*s_, parts, ec);
}

void TlsSocket::encrypt(std::span<const uint8_t> bytes, beast::error_code& ec) {
  detail::encrypt(*s_, bytes.data(), bytes.size(), ec);
}

size_t TlsSocket::unsent() const { return s_->out.size(); }

void TlsSocket::release_buffers() {
  State& s = *s_;
  if (s.flushing || !s.out.empty()) return;
  if (s.out.capacity() > kIdleCapacity) std::vector<uint8_t>().swap(s.out);
  if (s.sending.capacity() > kIdleCapacity) std::vector<uint8_t>().swap(s.sending);
}

size_t TlsSocket::buffer_capacity() const { return s_->out.capacity() + s_->sending.capacity(); }

awaitable<void> TlsSocket::flush(beast::error_code& ec) { return detail::flush(*s_, ec); }

awaitable<void> TlsSocket::shutdown(beast::error_code& ec) {
  ERR_clear_error();
  SSL_shutdown(s_->ssl);  // queues close_notify; the client's is not awaited
  ERR_clear_error();
  co_await detail::flush(*s_, ec);
}

awaitable<TlsSocket::IoResult> TlsSocket::read_op(State* s, asio::mutable_buffer buf) {
  IoResult r;
  r.n = co_await detail::read_some(*s, buf, r.ec);
  co_return r;
}

awaitable<TlsSocket::IoResult> TlsSocket::write_op(State* s,
                                                   std::vector<asio::const_buffer> parts) {
  IoResult r;
  r.n = co_await detail::write(*s, parts, r.ec);
  co_return r;
}

}  // namespace shoal::http::detail
