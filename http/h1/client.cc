// Synchronous calls on top of Beast's asynchronous operations: each call starts one
// operation and runs the private io_context until it completes. That is the way to
// get Beast's per-operation timeouts (tcp_stream::expires_after) in blocking code.
#include "http/client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/store/copy_into.h"
#include "http/h1/client_impl.h"

namespace shoal::http {

using detail::dropped;
using detail::is_ip_literal;

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

Result<void> detail::configure_client_tls(ssl::context& ctx, const ClientOptions& opt) {
  beast::error_code ec;
  ctx.set_verify_mode(opt.verify_tls ? ssl::verify_peer : ssl::verify_none, ec);
  if (opt.verify_tls && !opt.ca_file.empty()) {
    ctx.load_verify_file(opt.ca_file, ec);
    if (ec) return Error(Errc::io_error, "load CA file " + opt.ca_file + ": " + ec.message());
  } else if (opt.verify_tls) {
    ctx.set_default_verify_paths(ec);
  }
  if (ec) return Error(Errc::io_error, "TLS set-up: " + ec.message());
  return {};
}

Result<void> Client::Impl::make_tls_context() {
  if (tls_ctx_) return {};
  tls_ctx_.emplace(ssl::context::tls_client);
  return detail::configure_client_tls(*tls_ctx_, opt_);
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

Result<Response> Client::upload_file(std::string_view method, std::string_view path,
                                     const Headers& headers, const FileBody& body) {
  return impl_->upload_file(method, path, headers, body);
}

Result<Response> Client::download(std::string_view path, const Headers& headers,
                                  const BodySink& sink, const HeadHook& on_head) {
  return impl_->download(path, headers, sink, on_head);
}

Result<Response> Client::download_into(std::string_view path, const Headers& headers,
                                       const BodyBuffers& into, const HeadHook& on_head) {
  // A chunked body (rare for blobs) goes through the client's buffer and is copied in.
  auto copy_in = [&into](const char* data, size_t n) {
    return copy_into(data, n, into.acquire, into.commit);
  };
  return impl_->download(path, headers, copy_in, on_head, &into);
}

const Url& Client::url() const { return impl_->url(); }
void Client::close() { impl_->reset(); }

}  // namespace shoal::http
