// The request/response exchanges of the HTTP client: small bodies in memory, large
// ones streamed through one buffer in either direction.
#include <sys/sendfile.h>

#include <cerrno>
#include <limits>
#include <optional>

#include "core/file_io.h"
#include "http/h1/client_impl.h"

namespace shoal::http {

using detail::dropped;
using detail::head_of;

Result<void> Client::Impl::send_body(uint64_t length, const BodySource& source,
                                     bool& write_failed) {
  char* buf = stream_buffer();
  for (uint64_t left = length; left > 0;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, kStreamBuffer));
    auto n = source(buf, want);
    if (!n) return n.error();
    if (*n == 0 || *n > want) return Error(Errc::io_error, "request body ended before its length");
    auto ec = run(opt_.io_timeout, [&](auto done) {
      with_stream([&](auto& s) { asio::async_write(s, asio::buffer(buf, *n), std::move(done)); });
    });
    if (ec) {
      write_failed = true;
      return fail(ec, "send body to");
    }
    left -= *n;
  }
  return {};
}

Result<Response> Client::Impl::read_small(bool head_only, Ms timeout, bool* stale) {
  bhttp::response_parser<bhttp::string_body> p;
  p.body_limit(kMaxSmallBody);
  p.skip(head_only);
  auto ec = run(timeout, [&](auto done) {
    with_stream([&](auto& s) { bhttp::async_read(s, buffer_, p, std::move(done)); });
  });
  if (stale) *stale = ec == bhttp::error::end_of_stream || (dropped(ec) && !p.got_some());
  if (ec) return fail(ec, "read response from");
  Response r = head_of(p.get());
  r.body = std::move(p.get().body());
  if (p.keep_alive())
    fresh_ = false;
  else
    reset();
  return r;
}

Result<Response> Client::Impl::request(std::string_view method, std::string_view path,
                                       const Headers& headers, std::string_view body) {
  bool idempotent = method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE";
  for (int attempt = 0;; ++attempt) {
    if (auto ok = ensure_connected(); !ok) return ok.error();
    bool reused = !fresh_;
    bhttp::request<bhttp::string_body> req;
    fill(req, method, path, headers);
    req.body() = std::string(body);
    req.prepare_payload();
    auto ec = run(opt_.io_timeout, [&](auto done) {
      with_stream([&](auto& s) { bhttp::async_write(s, req, std::move(done)); });
    });
    if (!ec) {
      bool stale = false;
      auto r = read_small(method == "HEAD", opt_.io_timeout, &stale);
      if (r) return r;
      if (!reused || attempt > 0 || !idempotent || !stale) return reset(), r;
    } else if (!reused || attempt > 0 || !dropped(ec)) {
      return reset(), fail(ec, "send request to");
    }
    reset();  // a stale kept-alive connection: one retry on a new one
  }
}

template <class SendBody>
Result<Response> Client::Impl::upload_with(std::string_view method, std::string_view path,
                                           const Headers& headers, uint64_t length,
                                           SendBody&& send_body) {
  bhttp::request<bhttp::empty_body> req;
  fill(req, method, path, headers);
  req.content_length(length);
  if (auto ok = send_head(req); !ok) return ok.error();
  bool write_failed = false;
  if (auto sent = send_body(write_failed); !sent) {
    // A server refusing a body (401, 413, 507) may answer and close before reading
    // it all: its answer explains the failure better than "broken pipe".
    std::optional<Result<Response>> early;
    if (write_failed) early.emplace(read_small(false, std::min(opt_.io_timeout, Ms(5000))));
    reset();
    if (early && early->ok()) return std::move(*early);
    return sent.error();
  }
  auto r = read_small(false, opt_.io_timeout);
  if (!r) reset();
  return r;
}

Result<Response> Client::Impl::upload(std::string_view method, std::string_view path,
                                      const Headers& headers, uint64_t length,
                                      const BodySource& source) {
  return upload_with(method, path, headers, length, [&](bool& write_failed) {
    return send_body(length, source, write_failed);
  });
}

Result<Response> Client::Impl::upload_file(std::string_view method, std::string_view path,
                                           const Headers& headers, const FileBody& body) {
  return upload_with(method, path, headers, body.length,
                     [&](bool& write_failed) { return send_file(body, write_failed); });
}

namespace {
Error file_shorter() {
  return Error(Errc::conflict, "the file got shorter while it was sent");
}
}  // namespace

Result<void> Client::Impl::send_file(const FileBody& body, bool& write_failed) {
  const size_t step = std::max<size_t>(1, body.step);
  if (tls_) {
    // TLS encrypts in this process: the bytes pass through the buffer anyway.
    uint64_t at = body.offset;
    return send_body(body.length, [&](char* buf, size_t len) -> Result<size_t> {
      auto n = pread_some(body.fd, buf, std::min(len, step), at);
      if (!n) return n;
      if (*n == 0) return file_shorter();
      at += *n;
      if (auto ok = body.sent(*n); !ok) return ok.error();
      return n;
    }, write_failed);
  }
  // Plain TCP: the kernel moves the file's pages to the socket, and this process
  // never copies them.
  auto& sock = plain_->socket();
  sock.native_non_blocking(true);
  off_t off = static_cast<off_t>(body.offset);
  for (uint64_t left = body.length; left > 0;) {
    ssize_t n = ::sendfile(sock.native_handle(), body.fd, &off,
                           static_cast<size_t>(std::min<uint64_t>(left, step)));
    if (n > 0) {
      left -= static_cast<uint64_t>(n);
      if (auto ok = body.sent(static_cast<size_t>(n)); !ok) return ok;
      continue;
    }
    if (n == 0) return file_shorter();
    if (errno == EINTR) continue;
    beast::error_code ec;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      ec = wait_writable(opt_.io_timeout);
    else
      ec = beast::error_code(errno, asio::error::get_system_category());
    if (ec) {
      write_failed = true;
      return fail(ec, "send body to");
    }
  }
  return {};
}

// The socket's own wait has no deadline of Beast's, so a timer cancels it.
beast::error_code Client::Impl::wait_writable(Ms timeout) {
  auto& sock = plain_->socket();
  beast::error_code result = asio::error::would_block;
  bool expired = false;
  asio::steady_timer timer(ioc_, timeout);
  timer.async_wait([&](beast::error_code ec) {
    if (ec) return;
    expired = true;
    sock.cancel();
  });
  sock.async_wait(asio::socket_base::wait_write, [&](beast::error_code ec) {
    result = ec;
    timer.cancel();
  });
  ioc_.restart();
  ioc_.run();
  return expired ? beast::error_code(beast::error::timeout) : result;
}

// Body bytes already read past the head first, then straight from the socket.
Result<size_t> Client::Impl::read_some_body(char* buf, size_t want) {
  if (buffer_.size() > 0) {
    size_t got = asio::buffer_copy(asio::buffer(buf, want), buffer_.data());
    buffer_.consume(got);
    return got;
  }
  size_t got = 0;
  auto ec = run(opt_.io_timeout, [&](auto done) {
    with_stream([&](auto& s) {
      s.async_read_some(asio::buffer(buf, want), [&got, done](beast::error_code e, size_t n) mutable {
        got = n;
        done(e);
      });
    });
  });
  if (ec) return fail(ec, "read body from");
  return got;
}

template <class OnChunk>
Result<void> Client::Impl::read_fixed(uint64_t length, OnChunk&& on_chunk) {
  // A Content-Length body goes from the socket straight into the 1 MiB buffer: no
  // copy through the parser, and a few large reads instead of many small ones.
  char* buf = stream_buffer();
  while (length > 0) {
    auto got = read_some_body(buf, static_cast<size_t>(std::min<uint64_t>(length, kStreamBuffer)));
    if (!got) return got.error();
    length -= *got;
    if (auto ok = on_chunk(buf, *got); !ok) return ok;
  }
  return {};
}

// The same into the caller's buffers, each filled before it is handed over.
Result<void> Client::Impl::read_fixed_into(uint64_t length, const BodyBuffers& into) {
  while (length > 0) {
    auto slot = into.acquire();
    if (!slot) return slot.error();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length, slot->size()));
    size_t filled = 0;
    while (filled < want) {
      auto got = read_some_body(slot->data() + filled, want - filled);
      if (!got) {
        (void)into.commit(filled);  // what arrived is body, as with a sink
        return got.error();
      }
      filled += *got;
    }
    length -= filled;
    if (auto ok = into.commit(filled); !ok) return ok;
  }
  return {};
}

template <class OnChunk>
Result<void> Client::Impl::read_chunks(bhttp::response_parser<bhttp::buffer_body>& p,
                                       OnChunk&& on_chunk) {
  if (!p.chunked() && p.content_length()) return read_fixed(*p.content_length(), on_chunk);
  char* buf = stream_buffer();
  while (!p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = kStreamBuffer;
    auto ec = run(opt_.io_timeout, [&](auto done) {
      with_stream([&](auto& s) { bhttp::async_read(s, buffer_, p, std::move(done)); });
    });
    if (ec == ssl::error::stream_truncated && !p.is_done()) p.put_eof(ec);  // OpenSSL 3: EOF
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return fail(ec, "read body from");
    size_t got = kStreamBuffer - p.get().body().size;
    if (got > 0) {
      if (auto ok = on_chunk(buf, got); !ok) return ok;
    }
  }
  return {};
}

Result<Response> Client::Impl::read_streamed(const BodySink& sink, const BodyBuffers* into,
                                             const HeadHook& on_head, bool& stale) {
  bhttp::response_parser<bhttp::buffer_body> p;
  // No limit for blobs (memory stays at one buffer). Not boost::none: Beast 1.74
  // compares the Content-Length against the empty optional and always fails.
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  auto ec = run(opt_.io_timeout, [&](auto done) {
    with_stream([&](auto& s) { bhttp::async_read_header(s, buffer_, p, std::move(done)); });
  });
  stale = ec == bhttp::error::end_of_stream || (dropped(ec) && !p.got_some());
  if (ec) return reset(), fail(ec, "read response from");
  Response head = head_of(p.get());
  auto capture = [&](const char* data, size_t n) -> Result<void> {
    if (head.body.size() + n > kMaxSmallBody) return Error(Errc::too_large, "error body too large");
    head.body.append(data, n);
    return {};
  };
  Result<void> ok = head.success() && on_head ? on_head(head) : Result<void>();
  if (ok && !head.success())
    ok = read_chunks(p, capture);
  else if (ok && into && !p.chunked() && p.content_length())
    ok = read_fixed_into(*p.content_length(), *into);
  else if (ok)
    ok = read_chunks(p, sink);
  if (!ok) return reset(), ok.error();
  if (p.keep_alive())
    fresh_ = false;
  else
    reset();
  return head;
}

Result<Response> Client::Impl::download(std::string_view path, const Headers& headers,
                                        const BodySink& sink, const HeadHook& on_head,
                                        const BodyBuffers* into) {
  bhttp::request<bhttp::empty_body> req;
  fill(req, "GET", path, headers);
  for (int attempt = 0;; ++attempt) {
    if (auto ok = send_head(req); !ok) return ok.error();
    bool reused = !fresh_;
    bool stale = false;
    auto r = read_streamed(sink, into, on_head, stale);
    // Only when nothing at all came back on an old connection: a GET is safe to repeat.
    if (r || !reused || attempt > 0 || !stale) return r;
  }
}

}  // namespace shoal::http
