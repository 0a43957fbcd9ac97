// One HTTP/1.1 connection (plain TCP or TLS) and the Exchange it hands to the handler.
// Internal to core's HTTP server.
#pragma once

#include <memory>

#include "core/http_server.h"

namespace shoal::http::detail {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct ConnectionContext {
  const ServerOptions& opts;
  const Handler& handler;
};

awaitable<void> serve_plain(tcp::socket socket, ConnectionContext ctx);
awaitable<void> serve_tls(tcp::socket socket, asio::ssl::context& tls, ConnectionContext ctx);

}  // namespace shoal::http::detail
