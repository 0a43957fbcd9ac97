// The server's side of a TLS connection: OpenSSL driven over buffers of our own, in
// place of Asio's ssl::stream. Asio's engine hands ciphertext through a 17 KiB BIO pair
// and copies it out again, so each 16 KiB record cost a sendmsg of its own and two
// copies more than a socket BIO (nginx's way). Here SSL_write appends its records
// straight to one output buffer, and a write goes to the socket in one call however
// many records it holds. All calls happen on the connection's strand; one read and one
// write may be in progress at once, as HTTP/2 needs. Internal to core's HTTP server.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <span>
#include <vector>

#include "core/asio.h"

namespace shoal::http::detail {

class TlsSocket {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using next_layer_type = beast::tcp_stream;

  // Throws std::bad_alloc when OpenSSL cannot allocate the connection's state.
  TlsSocket(beast::tcp_stream tcp, asio::ssl::context& ctx);
  TlsSocket(TlsSocket&&) noexcept;
  TlsSocket& operator=(TlsSocket&&) noexcept;
  ~TlsSocket();

  executor_type get_executor();
  beast::tcp_stream& next_layer();
  SSL* native_handle();

  // The awaitable calls the front ends use; each reports failure through ec.
  awaitable<void> handshake(beast::error_code& ec);
  // At least one byte, or ec (asio::error::eof after the client's close_notify,
  // ssl::error::stream_truncated when TCP ended without one).
  awaitable<size_t> read_some(asio::mutable_buffer buf, beast::error_code& ec);
  // Every byte of every part, or ec. Returns the plaintext bytes taken.
  awaitable<size_t> write(std::span<const asio::const_buffer> parts, beast::error_code& ec);
  // Encrypts bytes without sending them yet, so that several of a writer's batches
  // leave in one flush(): the records wait in the output buffer.
  void encrypt(std::span<const uint8_t> bytes, beast::error_code& ec);
  // Ciphertext encrypt() has queued and no flush has taken yet.
  size_t unsent() const;
  awaitable<void> flush(beast::error_code& ec);
  // Gives back the output buffers' memory, which a large response grows to a few
  // hundred KiB, when nothing is waiting to go: for a connection that falls idle, so
  // that thousands of idle keep-alive connections hold little.
  void release_buffers();
  // Bytes the output buffers hold allocated (for tests).
  size_t buffer_capacity() const;
  // Sends close_notify; does not wait for the client's.
  awaitable<void> shutdown(beast::error_code& ec);

  // AsyncReadStream and AsyncWriteStream, for Beast's parsers and asio::async_write.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    asio::mutable_buffer first = *asio::buffer_sequence_begin(buffers);
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      if (it->size() > 0) {
        first = *it;
        break;
      }
    }
    return asio::async_initiate<Token, void(beast::error_code, size_t)>(
        [this](auto handler, asio::mutable_buffer buf) {
          spawn_io(read_op(s_.get(), buf), std::move(handler));
        },
        token, first);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    std::vector<asio::const_buffer> parts;
    size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers);
         it != asio::buffer_sequence_end(buffers) && total < kWriteSomeLimit; ++it) {
      asio::const_buffer b = *it;
      if (b.size() > kWriteSomeLimit - total) b = asio::buffer(b.data(), kWriteSomeLimit - total);
      parts.push_back(b);
      total += b.size();
    }
    return asio::async_initiate<Token, void(beast::error_code, size_t)>(
        [this](auto handler, std::vector<asio::const_buffer> ps) {
          spawn_io(write_op(s_.get(), std::move(ps)), std::move(handler));
        },
        token, std::move(parts));
  }

  struct State;  // pinned on the heap, as OpenSSL's BIO points at it; internal

 private:
  struct IoResult {
    beast::error_code ec;
    size_t n = 0;
  };
  // Plaintext one async_write_some takes: a few records, so one write carries them all.
  static constexpr size_t kWriteSomeLimit = 256 * 1024;

  // On State, not this: a socket may move while nothing is in progress.
  static awaitable<IoResult> read_op(State* s, asio::mutable_buffer buf);
  static awaitable<IoResult> write_op(State* s, std::vector<asio::const_buffer> parts);

  template <class Handler>
  void spawn_io(awaitable<IoResult> op, Handler handler) {
    asio::co_spawn(get_executor(), std::move(op),
                   [h = std::move(handler)](std::exception_ptr e, IoResult r) mutable {
                     if (e) r.ec = asio::error::no_memory;
                     std::move(h)(r.ec, r.n);
                   });
  }

  std::unique_ptr<State> s_;
};

}  // namespace shoal::http::detail
