// Set-up and teardown of the h3 client's QUIC connection: socket, GnuTLS session,
// ngtcp2 client connection. The loop lives in h3_client_loop.cc, HTTP/3 in
// h3_client_http.cc.
#include "http/h3/client_conn.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "http/h3/client_util.h"

namespace shoal::http::h3::detail {

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
// Windows sized for throughput on fast paths: ngtcp2 auto-tunes from the initial
// values up to the max_* ones as the sink keeps up.
constexpr uint64_t kInitialMaxData = 32 * kMiB;
constexpr uint64_t kInitialStreamData = 16 * kMiB;
constexpr uint64_t kMaxWindow = 64 * kMiB;
constexpr uint64_t kMaxStreamWindow = 32 * kMiB;
constexpr int kSocketBuffer = 8 * 1024 * 1024;
// QUIC v1's only cipher suites; CCM_8 is forbidden in QUIC. Compat mode (a fake
// session id) must be off: QUIC servers reject it.
constexpr const char* kPriority =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-CCM:%DISABLE_TLS13_COMPAT_MODE";

void random_bytes(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

int new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void*) {
  cid->datalen = cidlen;
  if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  // The token only lets the server reset us statelessly; a random one is enough.
  if (gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

Result<ngtcp2_cid> random_cid(size_t len) {
  ngtcp2_cid cid{};
  cid.datalen = len;
  if (gnutls_rnd(GNUTLS_RND_RANDOM, cid.data, len) != 0) {
    return Error(Errc::io_error, "no randomness for a QUIC connection id");
  }
  return cid;
}

// Receiving the ECN bits costs nothing and lets ngtcp2 react to congestion marks.
void enable_ecn_reports(int fd, int family) {
  int on = 1;
  if (family == AF_INET6) {
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
  } else {
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
  }
}

ngtcp2_callbacks quic_callbacks() {
  ngtcp2_callbacks cb{};
  cb.client_initial = ngtcp2_crypto_client_initial_cb;
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.rand = random_bytes;
  cb.get_new_connection_id = new_connection_id;
  return cb;
}

}  // namespace

ngtcp2_duration Connection::local_idle_timeout() const {
  return to_ns(std::max<Clock::duration>(opt_.io_timeout, std::chrono::seconds(1))) +
         NGTCP2_SECONDS;
}

Connection::Connection(const Url& url, const ClientOptions& options)
    : url_(url), opt_(options), tx_buf_(64 * 1024), rx_buf_(64 * 1024) {}

Connection::~Connection() = default;

ngtcp2_conn* Connection::conn_from_ref(ngtcp2_crypto_conn_ref* ref) {
  return static_cast<Connection*>(ref->user_data)->quic_.get();
}

Result<void> Connection::open(const sockaddr* addr, socklen_t len, TimePoint deadline) {
  if (auto ok = open_socket(addr, len); !ok) return ok;
  if (auto ok = init_tls(); !ok) return ok;
  if (auto ok = init_quic(deadline); !ok) return ok;
  if (auto ok = run_until([this] { return handshake_done_ && h3_ != nullptr; }, deadline); !ok) {
    return ok;
  }
  last_active_ = Clock::now();
  return check_alpn();
}

// The idle timeout both ends agreed on (the smaller non-zero one).
Connection::Clock::duration Connection::idle_timeout() const {
  const ngtcp2_transport_params* remote = ngtcp2_conn_get_remote_transport_params(quic_.get());
  auto local = std::chrono::nanoseconds(local_idle_timeout());
  if (!remote || remote->max_idle_timeout == 0) return local;
  return std::min<Clock::duration>(local, std::chrono::nanoseconds(remote->max_idle_timeout));
}

Result<void> Connection::open_socket(const sockaddr* addr, socklen_t len) {
  fd_ = UniqueFd(::socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) return errno_error(errno, "UDP socket");
  // A connected socket gets ICMP port-unreachable back as ECONNREFUSED: a closed
  // port fails at once instead of after the whole connect timeout.
  if (::connect(fd_.get(), addr, len) != 0) {
    unreachable_ = true;
    return Error(Errc::unavailable,
                 "connect to " + url_.endpoint() + " (UDP): " + std::strerror(errno));
  }
  std::memcpy(&remote_, addr, len);
  remote_len_ = len;
  local_len_ = sizeof local_;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&local_), &local_len_) != 0) {
    return errno_error(errno, "getsockname");
  }
  // Best effort: the kernel caps these at net.core.[rw]mem_max.
  (void)setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  (void)setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
  enable_ecn_reports(fd_.get(), addr->sa_family);
  // A server's GSO burst arrives as one read (cut up in read_packets) instead of one
  // per datagram; on loopback the kernel then need not cut it up for us either.
  int on = 1;
  (void)setsockopt(fd_.get(), SOL_UDP, UDP_GRO, &on, sizeof on);
  return {};
}

Result<void> Connection::init_credentials() {
  gnutls_certificate_credentials_t cred = nullptr;
  if (gnutls_certificate_allocate_credentials(&cred) != 0) {
    return Error(Errc::io_error, "TLS set-up: out of memory");
  }
  credentials_.reset(cred);
  if (!opt_.verify_tls) return {};
  if (!opt_.ca_file.empty()) {
    int n = gnutls_certificate_set_x509_trust_file(cred, opt_.ca_file.c_str(), GNUTLS_X509_FMT_PEM);
    if (n <= 0) {
      return Error(Errc::io_error, "load CA file " + opt_.ca_file + ": " +
                                       (n < 0 ? gnutls_strerror(n) : "no certificate in it"));
    }
    return {};
  }
  if (int n = gnutls_certificate_set_x509_system_trust(cred); n < 0) {
    return Error(Errc::io_error, std::string("system trust store: ") + gnutls_strerror(n));
  }
  return {};
}

Result<void> Connection::init_tls() {
  if (auto ok = init_credentials(); !ok) return ok;
  gnutls_session_t session = nullptr;
  if (int rv = gnutls_init(&session, GNUTLS_CLIENT); rv != 0) {
    return Error(Errc::io_error, std::string("gnutls_init: ") + gnutls_strerror(rv));
  }
  tls_.reset(session);
  auto tls_error = [](const char* what, int rv) {
    return Error(Errc::io_error, std::string("TLS set-up: ") + what + ": " + gnutls_strerror(rv));
  };
  if (int rv = gnutls_priority_set_direct(session, kPriority, nullptr); rv != 0) {
    return tls_error("priority", rv);
  }
  if (ngtcp2_crypto_gnutls_configure_client_session(session) != 0) {
    return Error(Errc::io_error, "TLS set-up: ngtcp2_crypto_gnutls_configure_client_session");
  }
  conn_ref_ = ngtcp2_crypto_conn_ref{conn_from_ref, this};
  gnutls_session_set_ptr(session, &conn_ref_);
  if (int rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials_.get());
      rv != 0) {
    return tls_error("credentials", rv);
  }
  static const char kAlpn[] = "h3";
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn)), 2};
  if (int rv = gnutls_alpn_set_protocols(session, &alpn, 1, GNUTLS_ALPN_MANDATORY); rv != 0) {
    return tls_error("ALPN", rv);
  }
  if (!is_ip_literal(url_.host)) {  // SNI must be a name, never an address
    gnutls_server_name_set(session, GNUTLS_NAME_DNS, url_.host.data(), url_.host.size());
  }
  // GnuTLS checks the chain and the name (or IP address SAN) during the handshake.
  if (opt_.verify_tls) gnutls_session_set_verify_cert(session, url_.host.c_str(), 0);
  return {};
}

Result<void> Connection::init_quic(TimePoint deadline) {
  auto scid = random_cid(17);
  auto dcid = random_cid(18);
  if (!scid) return scid.error();
  if (!dcid) return dcid.error();

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now_ts();
  settings.max_window = kMaxWindow;
  settings.max_stream_window = kMaxStreamWindow;
  auto left = std::max(deadline - Clock::now(), Clock::duration(std::chrono::milliseconds(1)));
  settings.handshake_timeout = to_ns(left);

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_data = kInitialMaxData;
  params.initial_max_stream_data_bidi_local = kInitialStreamData;
  params.initial_max_stream_data_uni = kMiB;  // the server's control and QPACK streams
  params.initial_max_streams_bidi = 0;        // servers do not open request streams
  params.initial_max_streams_uni = 8;         // 3 critical ones plus room for grease
  // A stalled transfer should end through io_timeout (timed_out), not idle close first.
  params.max_idle_timeout = local_idle_timeout();

  ngtcp2_path path{{reinterpret_cast<ngtcp2_sockaddr*>(&local_), local_len_},
                   {reinterpret_cast<ngtcp2_sockaddr*>(&remote_), remote_len_},
                   nullptr};
  ngtcp2_callbacks cb = quic_callbacks();
  cb.recv_rx_key = on_rx_key;
  cb.handshake_completed = on_handshake_completed;
  cb.recv_stream_data = on_stream_data;
  cb.acked_stream_data_offset = on_acked;
  cb.stream_close = on_stream_close;
  cb.stream_reset = on_stream_reset;
  cb.stream_stop_sending = on_stop_sending;
  cb.extend_max_stream_data = on_extend_stream_data;

  ngtcp2_conn* conn = nullptr;
  int rv = ngtcp2_conn_client_new(&conn, &*dcid, &*scid, &path, NGTCP2_PROTO_VER_V1, &cb, &settings,
                                  &params, nullptr, this);
  if (rv != 0) return Error(Errc::io_error, std::string("ngtcp2: ") + ngtcp2_strerror(rv));
  quic_.reset(conn);
  ngtcp2_conn_set_tls_native_handle(conn, tls_.get());
  ngtcp2_connection_close_error_default(&last_error_);
  return {};
}

Result<void> Connection::check_alpn() {
  gnutls_datum_t proto{};
  if (gnutls_alpn_get_selected_protocol(tls_.get(), &proto) != 0 || proto.size != 2 ||
      std::memcmp(proto.data, "h3", 2) != 0) {
    return fail(Errc::protocol_error, url_.endpoint() + " did not agree to HTTP/3 (ALPN h3)");
  }
  return {};
}

int Connection::on_handshake_completed(ngtcp2_conn*, void* self) {
  static_cast<Connection*>(self)->handshake_done_ = true;
  return 0;
}

bool Connection::reusable() {
  if (error_ || closed_ || goaway_ || !quic_ || !h3_) return false;
  if (ngtcp2_conn_is_in_closing_period(quic_.get()) ||
      ngtcp2_conn_is_in_draining_period(quic_.get())) {
    return false;
  }
  // Packets the server sent while we were away (probes) sit unread in the socket
  // and would restart ngtcp2's idle timer when read now, although the server may
  // have given up on us meanwhile: past half the idle timeout, start afresh.
  if (Clock::now() - last_active_ >= idle_timeout() / 2) return false;
  // Take in what arrived while we were away (a CONNECTION_CLOSE, a GOAWAY) and let
  // an expired idle timer close the connection now rather than mid-request.
  bool progressed = false;
  if (!read_packets(progressed)) return false;
  if (now_ts() >= ngtcp2_conn_get_expiry(quic_.get()) && !handle_timer()) return false;
  if (!write_packets()) return false;
  return !error_ && !goaway_;
}

void Connection::close() {
  if (!quic_ || error_ || closed_) return;
  if (h3_) {
    ngtcp2_connection_close_error_set_application_error(&last_error_, NGHTTP3_H3_NO_ERROR, nullptr,
                                                        0);
  }
  send_close();
}

void Connection::send_close() {
  if (!quic_ || closed_) return;
  closed_ = true;
  if (ngtcp2_conn_is_in_closing_period(quic_.get()) ||
      ngtcp2_conn_is_in_draining_period(quic_.get())) {
    return;
  }
  ngtcp2_pkt_info pi{};
  auto n = ngtcp2_conn_write_connection_close(quic_.get(), nullptr, &pi, tx_buf_.data(),
                                              tx_buf_.size(), &last_error_, now_ts());
  if (n > 0) (void)::send(fd_.get(), tx_buf_.data(), static_cast<size_t>(n), 0);
}

Error Connection::fail(Errc code, const std::string& message) {
  if (error_) return *error_;
  error_.emplace(code, message);
  send_close();
  return *error_;
}

Error Connection::fail_quic(int liberr, const std::string& what) {
  ngtcp2_connection_close_error_set_transport_error_liberr(&last_error_, liberr, nullptr, 0);
  return fail(Errc::protocol_error,
              "QUIC error with " + url_.endpoint() + ": " + what + ": " + ngtcp2_strerror(liberr));
}

Error Connection::fail_http3(int liberr, const std::string& what) {
  ngtcp2_connection_close_error_set_application_error(
      &last_error_, nghttp3_err_infer_quic_app_error_code(liberr), nullptr, 0);
  return fail(Errc::protocol_error, "HTTP/3 error with " + url_.endpoint() + ": " + what + ": " +
                                        nghttp3_strerror(liberr));
}

// The peer closed (or reset) the connection: nothing more may be sent on it.
Error Connection::peer_closed() {
  closed_ = true;
  ngtcp2_connection_close_error ccerr;
  ngtcp2_connection_close_error_default(&ccerr);
  ngtcp2_conn_get_connection_close_error(quic_.get(), &ccerr);
  bool app = ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
  bool clean = app ? ccerr.error_code == NGHTTP3_H3_NO_ERROR : ccerr.error_code == NGTCP2_NO_ERROR;
  std::string reason(reinterpret_cast<const char*>(ccerr.reason),
                     ccerr.reason ? ccerr.reasonlen : 0);
  std::string msg = url_.endpoint() + " closed the QUIC connection";
  if (!clean)
    msg += " with " + std::string(app ? "HTTP/3" : "transport") + " error " + hex(ccerr.error_code);
  if (!reason.empty()) msg += " (" + printable(reason) + ")";
  return fail(clean ? Errc::unavailable : Errc::protocol_error, msg);
}

Error Connection::crypto_failure() {
  uint8_t alert = ngtcp2_conn_get_tls_alert(quic_.get());
  ngtcp2_connection_close_error_set_transport_error_tls_alert(&last_error_, alert, nullptr, 0);
  unsigned status = gnutls_session_get_verify_cert_status(tls_.get());
  if (opt_.verify_tls && status != 0) {
    gnutls_datum_t text{};
    std::string why = "not trusted";
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
      why.assign(reinterpret_cast<const char*>(text.data), text.size);
      gnutls_free(text.data);
      while (!why.empty() && (why.back() == ' ' || why.back() == '\0')) why.pop_back();
    }
    return fail(Errc::unavailable, "TLS certificate of " + url_.endpoint() + ": " + why);
  }
  const char* name = gnutls_alert_get_name(static_cast<gnutls_alert_description_t>(alert));
  return fail(Errc::unavailable, "TLS handshake with " + url_.endpoint() + " failed" +
                                     (name ? std::string(" (") + name + ")" : std::string()));
}

}  // namespace shoal::http::h3::detail
