// What a component implements to answer HTTP: the request head, the Exchange through
// which a handler reads the request body and sends its response, and the Handler. Every
// front end (HTTP/1.1, HTTP/2, HTTP/3) turns its bytes into an Exchange and calls one
// Handler, so handlers never know the protocol (H2O's one request core).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/asio.h"
#include "core/error.h"

namespace shoal::http {

using Head = bhttp::response_header<>;
using RequestHead = bhttp::request_header<>;

// One request and its response. The handler must call exactly one respond*().
class Exchange {
 public:
  virtual ~Exchange() = default;

  const RequestHead& request() const { return req_; }
  bhttp::verb method() const { return req_.method(); }
  std::string_view path() const { return path_; }    // target before '?', not decoded
  std::string_view query() const { return query_; }  // after '?', may be empty
  std::optional<std::string> query_param(std::string_view name) const;
  std::string_view header(bhttp::field f) const;
  std::string_view remote_address() const { return remote_; }  // "ip:port"
  std::string_view remote_ip() const;
  // "http/1.1", "h2" or "h3": the front end that carried the request.
  std::string_view protocol() const { return protocol_; }
  bool has_body() const;
  bool chunked() const { return chunked_; }
  // Neither Content-Length nor chunked: HTTP/1.1 says no body, uploads want 411.
  bool length_known() const { return content_length_.has_value() || chunked_; }
  std::optional<uint64_t> content_length() const { return content_length_; }
  uint64_t body_bytes_read() const { return body_read_; }

  // Reads the next part of the request body into buf; 0 means the body is complete.
  virtual awaitable<Result<size_t>> read_body(std::span<char> buf) = 0;

  // Fills in Server, Content-Length and Connection, sends the head, then the body
  // (nothing for HEAD requests).
  virtual awaitable<void> respond(Head head, std::string_view body) = 0;
  // Sends `length` bytes of fd from `offset` as the body (sendfile on plain TCP).
  virtual awaitable<void> respond_file(Head head, int fd, uint64_t offset, uint64_t length) = 0;

  // A body produced in parts, for content still arriving: start_body() sends the head
  // with Content-Length `length` and says whether a body should follow (not for HEAD,
  // not when the client is gone); send_file_part() then sends file ranges in order.
  // A body left short when the handler returns closes the connection, so a client
  // sees a truncated response, never a complete wrong one.
  virtual awaitable<bool> start_body(Head head, uint64_t length) = 0;
  virtual awaitable<bool> send_file_part(int fd, uint64_t offset, uint64_t length) = 0;

  awaitable<void> respond_json(bhttp::status status, std::string json);
  // {"error": code, "message": message}, or what set_error_renderer chose.
  awaitable<void> respond_error(bhttp::status status, std::string_view code,
                                std::string_view message);
  // The error document for this request: the registry routes answer in the OCI
  // spec's format through the same shared code that answers Shoal's own routes.
  // Headers added to whatever response this request gets, errors and 304s included
  // (CORS, Alt-Svc): set once by the request core, applied by every front end.
  void add_response_header(std::string name, std::string value) {
    extra_headers_.emplace_back(std::move(name), std::move(value));
  }
  using ErrorRenderer = std::string (*)(std::string_view code, std::string_view message);
  void set_error_renderer(ErrorRenderer r) { error_renderer_ = r; }
  std::string error_body(std::string_view code, std::string_view message) const;

  bool responded() const { return responded_; }
  bhttp::status status() const { return status_; }
  uint64_t body_bytes_sent() const { return sent_; }
  // Ask for the connection to close after this response.
  void close_connection() { close_ = true; }

 protected:
  Exchange(RequestHead req, std::string remote);
  RequestHead req_;
  std::string path_, query_, remote_;
  std::string_view protocol_ = "http/1.1";
  std::optional<uint64_t> content_length_;
  uint64_t body_read_ = 0;
  uint64_t sent_ = 0;
  bhttp::status status_ = bhttp::status::unknown;
  bool responded_ = false;
  bool close_ = false;
  bool chunked_ = false;
  ErrorRenderer error_renderer_ = nullptr;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  void apply_extra_headers(Head& head) const {
    for (const auto& [name, value] : extra_headers_) head.set(name, value);
  }
};

using Handler = std::function<awaitable<void>(Exchange&)>;

}  // namespace shoal::http
