// TLS 1.3 for QUIC on GnuTLS, the crypto backend of Debian's ngtcp2: the server's
// certificate, the key that encrypts session tickets (resumption and 0-RTT), and one
// configured gnutls session per connection. Internal to core's HTTP/3 front end.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>

#include "core/error.h"

struct ngtcp2_crypto_conn_ref;

namespace shoal::http::h3 {

class TlsContext {
 public:
  // Throws std::runtime_error (start-up only): unreadable certificate or key.
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server session that offers ALPN "h3" only, with tickets and early data on,
  // wired to ngtcp2 through `ref`. The caller owns it (gnutls_deinit).
  Result<gnutls_session_t> new_session(ngtcp2_crypto_conn_ref* ref) const;

 private:
  gnutls_certificate_credentials_t creds_ = nullptr;
  gnutls_datum_t ticket_key_{nullptr, 0};
  gnutls_anti_replay_t anti_replay_ = nullptr;
};

}  // namespace shoal::http::h3
