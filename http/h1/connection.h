// One HTTP/1.1 connection (plain TCP or TLS) and the Exchange it hands to the handler.
// Internal to core's HTTP server.
#pragma once

#include <memory>

#include "http/server.h"

namespace shoal::http::detail {

using PlainStream = beast::tcp_stream;
// Not beast::ssl_stream: Beast 1.74 (bug #2065) corrupts its state when a write of
// zero bytes meets a pending read, which full-duplex HTTP/2 does. One stream type for
// both protocols, so one handshake serves either and ALPN picks the front end.
using TlsStream = asio::ssl::stream<beast::tcp_stream>;

struct ConnectionContext {
  const ServerOptions& opts;
  const Handler& handler;
  // The Alt-Svc value that points clients at the HTTP/3 listener; empty: none.
  std::string_view alt_svc = {};
};

awaitable<void> serve_plain(tcp::socket socket, ConnectionContext ctx);
awaitable<void> serve_tls(tcp::socket socket, asio::ssl::context& tls, ConnectionContext ctx);

}  // namespace shoal::http::detail
