// The HTTP/2 client's connection: TCP, TLS with ALPN, the nghttp2 session, and the
// bytes nghttp2 asks to send, moved with blocking calls each bounded by a timeout
// the way the HTTP/1.1 client does it (start one asynchronous operation, run the
// private io_context until it completes). Requests: h2_client_streams.cc.
#include "http/h2/client.h"

#include <sys/socket.h>

#include <cerrno>
#include <iterator>

#include "http/alpn.h"
#include "http/h2/client_impl.h"
#include "http/h1/client_impl.h"

namespace shoal::http::h2 {
namespace {

constexpr std::string_view kAlpnOffer{"\x02h2\x08http/1.1", 12};

}  // namespace

Error Client::Impl::fail(const beast::error_code& ec, std::string_view what) const {
  std::string where = std::string(what) + " " + base_.endpoint() + ": ";
  if (ec == beast::error::timeout) {
    auto ms = what.starts_with("connect") ? opt_.connect_timeout : opt_.io_timeout;
    return Error(Errc::timed_out, where + "timed out after " + std::to_string(ms.count()) + " ms");
  }
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
    return Error(Errc::unavailable, where + "connection closed by the server");
  return Error(Errc::unavailable, where + ec.message());
}

Result<void> Client::Impl::make_tls_context() {
  if (tls_ctx_) return {};
  tls_ctx_.emplace(ssl::context::tls_client);
  if (auto ok = http::detail::configure_client_tls(*tls_ctx_, opt_); !ok) return ok;
  // Offering http/1.1 too lets a server without HTTP/2 answer, so the caller learns
  // what it speaks instead of getting a failed handshake.
  SSL_CTX_set_alpn_protos(tls_ctx_->native_handle(),
                          reinterpret_cast<const unsigned char*>(kAlpnOffer.data()),
                          static_cast<unsigned>(kAlpnOffer.size()));
  return {};
}

Result<void> Client::Impl::handshake() {
  tcp::resolver resolver(ioc_);
  beast::error_code ec;
  auto endpoints = resolver.resolve(base_.host, std::to_string(base_.port), ec);
  if (ec) return Error(Errc::unavailable, "resolve " + base_.host + ": " + ec.message());
  if (auto ok = make_tls_context(); !ok) return ok;
  tls_ = std::make_unique<TlsStream>(ioc_, *tls_ctx_);
  ec = run(opt_.connect_timeout, [&](auto done) {
    beast::get_lowest_layer(*tls_).async_connect(endpoints, std::move(done));
  });
  if (ec) return fail(ec, "connect to");
  beast::get_lowest_layer(*tls_).socket().set_option(tcp::no_delay(true), ec);
  beast::error_code addr_ec;
  asio::ip::make_address(base_.host, addr_ec);
  if (addr_ec) {  // SNI must be a name, never an address
    SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(base_.host.c_str()));
  }
  if (opt_.verify_tls) tls_->set_verify_callback(ssl::host_name_verification(base_.host));
  ec = run(opt_.connect_timeout,
           [&](auto done) { tls_->async_handshake(ssl::stream_base::client, std::move(done)); });
  if (ec) return fail(ec, "TLS handshake with");
  const unsigned char* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(tls_->native_handle(), &proto, &len);
  alpn_.assign(reinterpret_cast<const char*>(proto), len);
  return {};
}

Result<void> Client::Impl::start_session() {
  nghttp2_session_callbacks* cb = detail::make_callbacks();
  nghttp2_session* raw = nullptr;
  int rv = nghttp2_session_client_new(&raw, cb, this);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return Error(Errc::io_error, std::string("HTTP/2 session: ") + nghttp2_strerror(rv));
  session_.reset(raw);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kWindow)},
  };
  nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0, kWindow);
  return flush();  // the preface and SETTINGS go out before the first request
}

Result<bool> Client::Impl::connect() {
  reset();
  auto ok = handshake();
  if (ok && !negotiated_h2(tls_->native_handle())) {
    reset();
    return false;
  }
  if (ok) ok = start_session();
  if (!ok) return reset(), ok.error();
  fresh_ = true;
  return true;
}

// A connection is worth reusing while nghttp2 still wants to talk (no GOAWAY
// finished it) and the server has not closed the socket while we were idle.
bool Client::Impl::usable() {
  if (!session_ || !tls_) return false;
  if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get()))
    return false;
  char c;
  int fd = beast::get_lowest_layer(*tls_).socket().native_handle();
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

Result<void> Client::Impl::flush() {
  wbuf_.clear();
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0)
      return Error(Errc::protocol_error, std::string("HTTP/2: ") + nghttp2_strerror(int(n)));
    if (n == 0) break;
    wbuf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (wbuf_.empty()) return {};
  auto ec = run(opt_.io_timeout,
                [&](auto done) { asio::async_write(*tls_, asio::buffer(wbuf_), std::move(done)); });
  if (ec) return fail(ec, "send to");
  return {};
}

Client::Client(Url base, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(base), std::move(options))) {}
Client::~Client() = default;

Result<bool> Client::connect() { return impl_->connect(); }

Result<Response> Client::download(std::string_view path, const Headers& headers,
                                  const BodySink& sink, const HeadHook& on_head) {
  return impl_->download(path, headers, sink, on_head);
}

Result<void> Client::download_streams(std::string_view path, const Headers& headers,
                                      unsigned streams, const NextRequest& next) {
  return impl_->download_streams(path, headers, streams, next);
}

const Url& Client::url() const { return impl_->url(); }
std::string Client::alpn() const { return impl_->alpn(); }
void Client::close() { impl_->reset(); }

}  // namespace shoal::http::h2
