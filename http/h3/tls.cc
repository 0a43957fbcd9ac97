#include "http/h3/tls.h"

#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <stdexcept>
#include <string_view>

namespace shoal::http::h3 {
namespace {

// TLS 1.3 only (QUIC requires it), without the compatibility-mode session id that
// QUIC forbids.
constexpr const char* kPriority = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3";
constexpr std::string_view kAlpn = "h3";

// A ClientHello that did not select h3 is refused: HTTP/3 is all we speak on QUIC.
int check_alpn(gnutls_session_t session, unsigned, unsigned, unsigned, const gnutls_datum_t*) {
  gnutls_datum_t chosen;
  if (gnutls_alpn_get_selected_protocol(session, &chosen) != 0) return -1;
  std::string_view got(reinterpret_cast<const char*>(chosen.data), chosen.size);
  return got == kAlpn ? 0 : -1;
}

// 0-RTT replay protection keys on ClientHello data; a single-process server that
// accepts each ticket's early data only within GnuTLS's window needs no shared store.
int accept_replay_entry(void*, time_t, const gnutls_datum_t*, const gnutls_datum_t*) { return 0; }

}  // namespace

TlsContext::TlsContext(const std::string& cert_file, const std::string& key_file) {
  if (gnutls_certificate_allocate_credentials(&creds_) != 0) {
    throw std::runtime_error("HTTP/3: cannot allocate TLS credentials");
  }
  int rv = gnutls_certificate_set_x509_key_file(creds_, cert_file.c_str(), key_file.c_str(),
                                                GNUTLS_X509_FMT_PEM);
  if (rv != 0) {
    throw std::runtime_error("HTTP/3: cannot load " + cert_file + " / " + key_file + ": " +
                             gnutls_strerror(rv));
  }
  if (gnutls_session_ticket_key_generate(&ticket_key_) != 0 ||
      gnutls_anti_replay_init(&anti_replay_) != 0) {
    throw std::runtime_error("HTTP/3: cannot set up session tickets");
  }
  gnutls_anti_replay_set_add_function(anti_replay_, accept_replay_entry);
}

TlsContext::~TlsContext() {
  if (anti_replay_ != nullptr) gnutls_anti_replay_deinit(anti_replay_);
  if (ticket_key_.data != nullptr) gnutls_memset(ticket_key_.data, 0, ticket_key_.size);
  gnutls_free(ticket_key_.data);
  if (creds_ != nullptr) gnutls_certificate_free_credentials(creds_);
}

Result<gnutls_session_t> TlsContext::new_session(ngtcp2_crypto_conn_ref* ref) const {
  gnutls_session_t s = nullptr;
  // Tickets are sent once the handshake is done, so they carry the final keys.
  int rv = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET |
                               GNUTLS_NO_END_OF_EARLY_DATA);
  if (rv != 0) return Error(Errc::io_error, std::string("gnutls_init: ") + gnutls_strerror(rv));
  auto fail = [&](const char* what) -> Result<gnutls_session_t> {
    std::string msg = std::string(what) + ": " + gnutls_strerror(rv);
    gnutls_deinit(s);
    return Error(Errc::io_error, msg);
  };
  if ((rv = gnutls_priority_set_direct(s, kPriority, nullptr)) != 0) return fail("TLS priority");
  if ((rv = gnutls_session_ticket_enable_server(s, &ticket_key_)) != 0) return fail("TLS tickets");
  if ((rv = ngtcp2_crypto_gnutls_configure_server_session(s)) != 0) return fail("QUIC TLS hooks");
  gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST,
                                     check_alpn);
  gnutls_anti_replay_enable(s, anti_replay_);
  gnutls_record_set_max_early_data_size(s, 0xffffffffu);
  gnutls_session_set_ptr(s, ref);
  if ((rv = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds_)) != 0)
    return fail("TLS credentials");
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn.data())),
                      static_cast<unsigned>(kAlpn.size())};
  if ((rv = gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY)) != 0)
    return fail("ALPN");
  return s;
}

}  // namespace shoal::http::h3
