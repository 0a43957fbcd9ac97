// Internal to the HTTP client (http_client.cc, http_client_io.cc): the connection
// state behind Client, kept out of http_client.h so users never include Boost.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/asio.h"
#include "http/client.h"

namespace shoal::http {
namespace ssl = asio::ssl;
using Ms = std::chrono::milliseconds;
}  // namespace shoal::http

namespace shoal::http::detail {

// A client TLS context as ClientOptions ask: peer verification on unless disabled,
// against ca_file or the system's trust store. Shared by the HTTP/1.1 and HTTP/2 clients.
Result<void> configure_client_tls(ssl::context& ctx, const ClientOptions& opt);

inline bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Failures that mean "the server dropped the connection", as opposed to timeouts or
// protocol errors: the ones where a fresh connection may succeed.
inline bool dropped(const beast::error_code& ec) {
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

}  // namespace shoal::http::detail

namespace shoal::http {

class Client::Impl {
 public:
  Impl(Url base, ClientOptions opt) : base_(std::move(base)), opt_(std::move(opt)) {
    // Beast reads at most the buffer's spare capacity (minimum 512 bytes, maximum 64 KiB)
    // per call: without this, a blob download costs a system call per 512 bytes.
    buffer_.reserve(kReadAhead);
  }

  Result<Response> request(std::string_view method, std::string_view path, const Headers& headers,
                           std::string_view body);
  Result<Response> upload(std::string_view method, std::string_view path, const Headers& headers,
                          uint64_t length, const BodySource& source);
  Result<Response> upload_file(std::string_view method, std::string_view path,
                               const Headers& headers, const FileBody& body);
  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head, const BodyBuffers* into = nullptr);
  const Url& url() const { return base_; }
  void reset();

 private:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  static constexpr size_t kReadAhead = 64 * 1024;

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
  template <class SendBody>
  Result<Response> upload_with(std::string_view method, std::string_view path,
                               const Headers& headers, uint64_t length, SendBody&& send_body);
  Result<void> send_body(uint64_t length, const BodySource& source, bool& write_failed);
  Result<void> send_file(const FileBody& body, bool& write_failed);
  beast::error_code wait_writable(Ms timeout);
  Result<Response> read_small(bool head_only, Ms timeout, bool* stale = nullptr);
  Result<Response> read_streamed(const BodySink& sink, const BodyBuffers* into,
                                 const HeadHook& on_head, bool& stale);
  Result<void> read_fixed_into(uint64_t length, const BodyBuffers& into);
  Result<size_t> read_some_body(char* buf, size_t want);
  template <class OnChunk>
  Result<void> read_fixed(uint64_t length, OnChunk&& on_chunk);
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

}  // namespace shoal::http
