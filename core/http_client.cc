// Synchronous calls on top of Beast's asynchronous operations: each call starts one
// operation and runs the private io_context until it completes. That is the way to
// get Beast's per-operation timeouts (tcp_stream::expires_after) in blocking code.
#include "core/http_client.h"

#include <sys/socket.h>

#include <cerrno>
#include <limits>
#include <optional>

#include "core/asio.h"

namespace shoal::http {
namespace {

namespace ssl = asio::ssl;
using Ms = std::chrono::milliseconds;

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Failures that mean "the server dropped the connection", as opposed to timeouts or
// protocol errors: the ones where a fresh connection may succeed.
bool dropped(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

template <class Header>
Response head_of(const Header& h) {
  Response r;
  r.status = h.result_int();
  for (const auto& f : h)
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return r;
}

}  // namespace

class Client::Impl {
 public:
  Impl(Url base, ClientOptions opt) : base_(std::move(base)), opt_(std::move(opt)) {}

  Result<Response> request(std::string_view method, std::string_view path, const Headers& headers,
                           std::string_view body);
  Result<Response> upload(std::string_view method, std::string_view path, const Headers& headers,
                          uint64_t length, const BodySource& source);
  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head);
  const Url& url() const { return base_; }
  void reset();

 private:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*plain_);
  }
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  template <class Initiate>
  beast::error_code run(Ms timeout, Initiate&& initiate);

  Result<void> make_tls_context();
  Result<void> connect();
  Result<void> ensure_connected();
  bool peer_closed();
  Error fail(const beast::error_code& ec, std::string_view what) const;
  template <class Body>
  void fill(bhttp::request<Body>& req, std::string_view method, std::string_view path,
            const Headers& headers) const;
  Result<void> send_head(bhttp::request<bhttp::empty_body>& req);
  Result<void> send_body(uint64_t length, const BodySource& source, bool& write_failed);
  Result<Response> read_small(bool head_only, Ms timeout, bool* stale = nullptr);
  Result<Response> read_streamed(const BodySink& sink, const HeadHook& on_head, bool& stale);
  template <class OnChunk>
  Result<void> read_chunks(bhttp::response_parser<bhttp::buffer_body>& p, OnChunk&& on_chunk);
  char* stream_buffer();

  Url base_;
  ClientOptions opt_;
  asio::io_context ioc_;
  std::optional<ssl::context> tls_ctx_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<TlsStream> tls_;
  beast::flat_buffer buffer_;
  std::unique_ptr<char[]> stream_buf_;
  bool fresh_ = false;  // connected but no request completed on it yet
};

template <class Initiate>
beast::error_code Client::Impl::run(Ms timeout, Initiate&& initiate) {
  beast::error_code result = asio::error::would_block;
  lowest().expires_after(timeout);
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc_.restart();
  ioc_.run();
  return result;
}

Error Client::Impl::fail(const beast::error_code& ec, std::string_view what) const {
  std::string where = std::string(what) + " " + base_.endpoint() + ": ";
  if (ec == beast::error::timeout) {
    auto ms = what.starts_with("connect") ? opt_.connect_timeout : opt_.io_timeout;
    return Error(Errc::timed_out, where + "timed out after " + std::to_string(ms.count()) + " ms");
  }
  if (ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message) {
    return Error(Errc::unavailable, where + "connection closed by the server");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return Error(Errc::protocol_error, where + "malformed HTTP response (" + ec.message() + ")");
  }
  return Error(Errc::unavailable, where + ec.message());
}

void Client::Impl::reset() {
  plain_.reset();
  tls_.reset();
  buffer_.consume(buffer_.size());
  fresh_ = false;
}

Result<void> Client::Impl::make_tls_context() {
  if (tls_ctx_) return {};
  tls_ctx_.emplace(ssl::context::tls_client);
  beast::error_code ec;
  tls_ctx_->set_verify_mode(opt_.verify_tls ? ssl::verify_peer : ssl::verify_none, ec);
  if (opt_.verify_tls && !opt_.ca_file.empty()) {
    tls_ctx_->load_verify_file(opt_.ca_file, ec);
    if (ec) return Error(Errc::io_error, "load CA file " + opt_.ca_file + ": " + ec.message());
  } else if (opt_.verify_tls) {
    tls_ctx_->set_default_verify_paths(ec);
  }
  if (ec) return Error(Errc::io_error, "TLS set-up: " + ec.message());
  return {};
}

Result<void> Client::Impl::connect() {
  reset();
  tcp::resolver resolver(ioc_);
  beast::error_code ec;
  auto endpoints = resolver.resolve(base_.host, std::to_string(base_.port), ec);
  if (ec) return Error(Errc::unavailable, "resolve " + base_.host + ": " + ec.message());
  if (base_.tls()) {
    if (auto ok = make_tls_context(); !ok) return ok;
    tls_ = std::make_unique<TlsStream>(ioc_, *tls_ctx_);
  } else {
    plain_ = std::make_unique<beast::tcp_stream>(ioc_);
  }
  ec = run(opt_.connect_timeout,
           [&](auto done) { lowest().async_connect(endpoints, std::move(done)); });
  if (ec) return reset(), fail(ec, "connect to");
  lowest().socket().set_option(tcp::no_delay(true), ec);
  if (tls_) {
    if (!is_ip_literal(base_.host)) {  // SNI must be a name, never an address
      SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(base_.host.c_str()));
    }
    if (opt_.verify_tls) tls_->set_verify_callback(ssl::host_name_verification(base_.host));
    ec = run(opt_.connect_timeout,
             [&](auto done) { tls_->async_handshake(ssl::stream_base::client, std::move(done)); });
    if (ec) return reset(), fail(ec, "TLS handshake with");
  }
  fresh_ = true;
  return {};
}

// A kept-alive connection the server has since closed shows as readable (EOF) while
// idle; checking first avoids sending a request, or part of a body, into the void.
bool Client::Impl::peer_closed() {
  char c;
  ssize_t n = ::recv(lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) || buffer_.size() > 0;
}

Result<void> Client::Impl::ensure_connected() {
  if ((plain_ || tls_) && !peer_closed()) return {};
  return connect();
}

template <class Body>
void Client::Impl::fill(bhttp::request<Body>& req, std::string_view method, std::string_view path,
                        const Headers& headers) const {
  req.method_string({method.data(), method.size()});
  req.target(base_.target(path));
  req.version(11);
  req.set(bhttp::field::host, base_.host_header());
  req.set(bhttp::field::user_agent, opt_.user_agent);
  for (const auto& [name, value] : headers) req.set(beast::string_view(name), value);
}

char* Client::Impl::stream_buffer() {
  if (!stream_buf_) stream_buf_ = std::make_unique<char[]>(kStreamBuffer);
  return stream_buf_.get();
}

Result<void> Client::Impl::send_head(bhttp::request<bhttp::empty_body>& req) {
  for (int attempt = 0;; ++attempt) {
    if (auto ok = ensure_connected(); !ok) return ok;
    bool reused = !fresh_;
    bhttp::request_serializer<bhttp::empty_body> sr(req);
    auto ec = run(opt_.io_timeout, [&](auto done) {
      with_stream([&](auto& s) { bhttp::async_write_header(s, sr, std::move(done)); });
    });
    if (!ec) return {};
    reset();
    if (!reused || attempt > 0 || !dropped(ec)) return fail(ec, "send request to");
  }
}

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

Result<Response> Client::Impl::upload(std::string_view method, std::string_view path,
                                      const Headers& headers, uint64_t length,
                                      const BodySource& source) {
  bhttp::request<bhttp::empty_body> req;
  fill(req, method, path, headers);
  req.content_length(length);
  if (auto ok = send_head(req); !ok) return ok.error();
  bool write_failed = false;
  if (auto sent = send_body(length, source, write_failed); !sent) {
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

template <class OnChunk>
Result<void> Client::Impl::read_chunks(bhttp::response_parser<bhttp::buffer_body>& p,
                                       OnChunk&& on_chunk) {
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

Result<Response> Client::Impl::read_streamed(const BodySink& sink, const HeadHook& on_head,
                                             bool& stale) {
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
  if (ok) ok = head.success() ? read_chunks(p, sink) : read_chunks(p, capture);
  if (!ok) return reset(), ok.error();
  if (p.keep_alive())
    fresh_ = false;
  else
    reset();
  return head;
}

Result<Response> Client::Impl::download(std::string_view path, const Headers& headers,
                                        const BodySink& sink, const HeadHook& on_head) {
  bhttp::request<bhttp::empty_body> req;
  fill(req, "GET", path, headers);
  for (int attempt = 0;; ++attempt) {
    if (auto ok = send_head(req); !ok) return ok.error();
    bool reused = !fresh_;
    bool stale = false;
    auto r = read_streamed(sink, on_head, stale);
    // Only when nothing at all came back on an old connection: a GET is safe to repeat.
    if (r || !reused || attempt > 0 || !stale) return r;
  }
}

Client::Client(Url base, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(base), std::move(options))) {}
Client::~Client() = default;

Result<Response> Client::request(std::string_view method, std::string_view path,
                                 const Headers& headers, std::string_view body) {
  return impl_->request(method, path, headers, body);
}

Result<Response> Client::upload(std::string_view method, std::string_view path,
                                const Headers& headers, uint64_t length, const BodySource& source) {
  return impl_->upload(method, path, headers, length, source);
}

Result<Response> Client::download(std::string_view path, const Headers& headers,
                                  const BodySink& sink, const HeadHook& on_head) {
  return impl_->download(path, headers, sink, on_head);
}

const Url& Client::url() const { return impl_->url(); }
void Client::close() { impl_->reset(); }

}  // namespace shoal::http
