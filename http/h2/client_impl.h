// Internal to the HTTP/2 client (h2_client.cc: connection and TLS;
// h2_client_streams.cc: requests and nghttp2's callbacks). Kept out of h2_client.h so
// users never include Boost or nghttp2.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/asio.h"
#include "http/h2/client.h"

namespace shoal::http::h2::detail {

namespace ssl = asio::ssl;
using Ms = std::chrono::milliseconds;
using TlsStream = ssl::stream<beast::tcp_stream>;

constexpr size_t kReadBuffer = 256 * 1024;

// What one request's stream has seen so far; the stream's user data in nghttp2.
struct Exchange {
  const BodySink* sink = nullptr;
  const HeadHook* on_head = nullptr;
  Response head;
  bool head_done = false;
  bool got_any = false;  // a frame for this stream arrived: not safe to retry blindly
  bool closed = false;
  uint32_t close_code = NGHTTP2_NO_ERROR;
  std::optional<Error> error;  // from the sink or the head hook, or an oversized error body
};

struct SessionFree {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};

// A request's header fields and the nghttp2 view of them (pointing into `fields`).
struct RequestFields {
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<nghttp2_nv> nva;
};

nghttp2_session_callbacks* make_callbacks();  // the caller frees them

}  // namespace shoal::http::h2::detail

namespace shoal::http::h2 {

using detail::Exchange;
using detail::Ms;
using detail::RequestFields;
using detail::TlsStream;
namespace ssl = asio::ssl;

class Client::Impl {
 public:
  Impl(Url base, ClientOptions opt) : base_(std::move(base)), opt_(std::move(opt)) {}

  Result<bool> connect();
  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head);
  Result<void> download_streams(std::string_view path, const Headers& headers, unsigned streams,
                                const NextRequest& next);
  const Url& url() const { return base_; }
  const std::string& alpn() const { return alpn_; }
  void reset() {
    session_.reset();
    tls_.reset();
  }

 private:
  template <class Initiate>
  beast::error_code run(Ms timeout, Initiate&& initiate);
  Error fail(const beast::error_code& ec, std::string_view what) const;
  Result<void> make_tls_context();
  Result<void> handshake();
  Result<void> start_session();
  bool usable();
  // True when the connection was already in use (a failure on it may be staleness).
  Result<bool> ensure_connected();
  RequestFields request_fields(std::string_view path, const Headers& headers) const;
  Result<void> submit(const RequestFields& f, Exchange& ex);
  Result<Response> finish(Exchange& ex) const;
  Result<Response> exchange(const RequestFields& f, Exchange& ex);
  Result<void> flush();
  template <class Ready>
  Result<void> pump(Ready&& ready);

  Url base_;
  ClientOptions opt_;
  asio::io_context ioc_;
  std::optional<ssl::context> tls_ctx_;
  std::unique_ptr<TlsStream> tls_;
  std::unique_ptr<nghttp2_session, detail::SessionFree> session_;
  std::unique_ptr<uint8_t[]> rbuf_ = std::make_unique<uint8_t[]>(detail::kReadBuffer);
  std::string wbuf_;
  std::string alpn_;
  bool fresh_ = false;  // connected but no request completed on it yet
};

template <class Initiate>
beast::error_code Client::Impl::run(Ms timeout, Initiate&& initiate) {
  beast::error_code result = asio::error::would_block;
  beast::get_lowest_layer(*tls_).expires_after(timeout);
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc_.restart();
  ioc_.run();
  return result;
}

}  // namespace shoal::http::h2
