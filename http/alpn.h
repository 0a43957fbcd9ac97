// ALPN on the server's TLS context: the client's list decides between HTTP/2 and
// HTTP/1.1 during the handshake, so one port serves both.
#pragma once

#include <openssl/ssl.h>

namespace shoal::http {

// Selects "h2" when `http2` and the client offers it, else "http/1.1"; a client
// offering neither gets no ALPN answer (and HTTP/1.1).
void enable_alpn(SSL_CTX* ctx, bool http2);
// After the handshake: whether the connection speaks HTTP/2.
bool negotiated_h2(SSL* ssl);

}  // namespace shoal::http
