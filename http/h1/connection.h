// One HTTP/1.1 connection (plain TCP or TLS) and the Exchange it hands to the handler.
// Internal to core's HTTP server.
#pragma once

#include <memory>

#include "http/server.h"
#include "http/tls_socket.h"

namespace shoal::http::detail {

using PlainStream = beast::tcp_stream;
// One stream type for both protocols, so one handshake serves either and ALPN picks
// the front end. Not Asio's ssl::stream: see tls_socket.h.
using TlsStream = TlsSocket;

struct ConnectionContext {
  const ServerOptions& opts;
  const Handler& handler;
  // The Alt-Svc value that points clients at the HTTP/3 listener; empty: none.
  std::string_view alt_svc = {};
};

awaitable<void> serve_plain(tcp::socket socket, ConnectionContext ctx);
awaitable<void> serve_tls(tcp::socket socket, asio::ssl::context& tls, ConnectionContext ctx);

}  // namespace shoal::http::detail
