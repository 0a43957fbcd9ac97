// The QUIC connection behind h3::Client: one connected UDP socket, an ngtcp2 client
// connection secured by GnuTLS, and nghttp3 on top. Internal to the h3 client.
//
// Everything runs on the caller's thread inside run_until(): a poll() loop that
// reads datagrams, feeds them to ngtcp2, writes what ngtcp2/nghttp3 want to send and
// fires ngtcp2's timers. nghttp3's callbacks hand response data straight to the
// caller's sink, so a body is never buffered beyond one datagram.
#pragma once

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/file_io.h"
#include "http/client.h"

namespace shoal::http::h3::detail {

// One request/response on a bidirectional stream, filled in by nghttp3's callbacks.
struct Exchange {
  const BodySink* sink = nullptr;
  const HeadHook* on_head = nullptr;
  Response response;
  bool head_done = false;
  bool finished = false;           // the whole response arrived
  std::optional<Error> failure;    // the sink or hook refused, or the stream broke
  bool received_anything = false;  // for the caller's retry decision
};

struct QuicDeleter {
  void operator()(ngtcp2_conn* c) const { ngtcp2_conn_del(c); }
};
struct Http3Deleter {
  void operator()(nghttp3_conn* c) const { nghttp3_conn_del(c); }
};
struct SessionDeleter {
  void operator()(gnutls_session_int* s) const { gnutls_deinit(s); }
};
struct CredentialsDeleter {
  void operator()(gnutls_certificate_credentials_st* c) const {
    gnutls_certificate_free_credentials(c);
  }
};

class Connection {
 public:
  Connection(const Url& url, const ClientOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  // Connects the socket to `addr` and completes the QUIC + TLS handshake by `deadline`.
  Result<void> open(const sockaddr* addr, socklen_t len, TimePoint deadline);
  // False once the connection is closed, draining, idle-expired or told to go away.
  bool reusable();
  // Sends a GET with `nva` and runs the loop until `ex` is finished or failed. On a
  // reused connection, silence right after the request means the server forgot the
  // connection (restart, idle close we did not see): Errc::unavailable, fast.
  Result<void> fetch(std::span<const nghttp3_nv> nva, Exchange& ex, bool reused);
  // Sends CONNECTION_CLOSE (H3_NO_ERROR) if the connection is still up.
  void close();
  // The last failure came from the socket (refused, unreachable): another address
  // of the same host may still work.
  bool unreachable() const { return unreachable_; }

 private:
  // Set-up (h3_client_conn.cc).
  Result<void> open_socket(const sockaddr* addr, socklen_t len);
  Result<void> init_credentials();
  Result<void> init_tls();
  Result<void> init_quic(TimePoint deadline);
  Result<void> check_alpn();
  // The event loop (h3_client_loop.cc). Without a fixed deadline, io_timeout
  // without a datagram from the server ends the wait.
  Result<void> run_until(const std::function<bool()>& done,
                         std::optional<TimePoint> deadline = std::nullopt,
                         std::optional<Clock::duration> answer_within = std::nullopt);
  Clock::duration idle_timeout() const;
  ngtcp2_duration local_idle_timeout() const;
  Result<void> read_packets(bool& progressed);
  Result<void> feed_packet(const uint8_t* data, size_t len, uint8_t ecn);
  Result<void> write_packets();
  Result<void> write_one(int64_t stream_id, int fin, const nghttp3_vec* vec, size_t veccnt,
                         bool& more);
  Result<void> send_datagram(const uint8_t* data, size_t len, uint8_t ecn);
  Result<void> handle_timer();
  Error fail(Errc code, const std::string& message);
  Error fail_quic(int liberr, const std::string& what);
  Error fail_http3(int liberr, const std::string& what);
  Error peer_closed();
  Error crypto_failure();
  void send_close();
  // HTTP/3 (h3_client_http.cc).
  Result<void> init_http3();
  Exchange* exchange_for(int64_t stream_id) const;
  void consumed(int64_t stream_id, size_t n);
  void abandon_active();

  static ngtcp2_conn* conn_from_ref(ngtcp2_crypto_conn_ref* ref);
  static int on_rx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* self);
  static int on_handshake_completed(ngtcp2_conn*, void* self);
  static int on_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t offset,
                            const uint8_t* data, size_t len, void* self, void* stream_data);
  static int on_acked(ngtcp2_conn*, int64_t stream_id, uint64_t offset, uint64_t len, void* self,
                      void* stream_data);
  static int on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t app_error,
                             void* self, void* stream_data);
  static int on_stream_reset(ngtcp2_conn*, int64_t stream_id, uint64_t final_size,
                             uint64_t app_error, void* self, void* stream_data);
  static int on_stop_sending(ngtcp2_conn*, int64_t stream_id, uint64_t app_error, void* self,
                             void* stream_data);
  static int on_extend_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t max_data, void* self,
                                   void* stream_data);
  static int h3_recv_data(nghttp3_conn*, int64_t stream_id, const uint8_t* data, size_t len,
                          void* self, void* stream_data);
  static int h3_deferred_consume(nghttp3_conn*, int64_t stream_id, size_t consumed, void* self,
                                 void* stream_data);
  static int h3_begin_headers(nghttp3_conn*, int64_t stream_id, void* self, void* stream_data);
  static int h3_recv_header(nghttp3_conn*, int64_t stream_id, int32_t token, nghttp3_rcbuf* name,
                            nghttp3_rcbuf* value, uint8_t flags, void* self, void* stream_data);
  static int h3_end_headers(nghttp3_conn*, int64_t stream_id, int fin, void* self,
                            void* stream_data);
  static int h3_end_stream(nghttp3_conn*, int64_t stream_id, void* self, void* stream_data);
  static int h3_stream_close(nghttp3_conn*, int64_t stream_id, uint64_t app_error, void* self,
                             void* stream_data);
  static int h3_stop_sending(nghttp3_conn*, int64_t stream_id, uint64_t app_error, void* self,
                             void* stream_data);
  static int h3_reset_stream(nghttp3_conn*, int64_t stream_id, uint64_t app_error, void* self,
                             void* stream_data);
  static int h3_shutdown(nghttp3_conn*, int64_t id, void* self);

  const Url& url_;
  const ClientOptions& opt_;
  UniqueFd fd_;
  sockaddr_storage local_{};
  sockaddr_storage remote_{};
  socklen_t local_len_ = 0;
  socklen_t remote_len_ = 0;
  // Declared in dependency order: destroyed from nghttp3 down to the credentials.
  std::unique_ptr<gnutls_certificate_credentials_st, CredentialsDeleter> credentials_;
  std::unique_ptr<gnutls_session_int, SessionDeleter> tls_;
  ngtcp2_crypto_conn_ref conn_ref_{};
  std::unique_ptr<ngtcp2_conn, QuicDeleter> quic_;
  std::unique_ptr<nghttp3_conn, Http3Deleter> h3_;

  ngtcp2_connection_close_error last_error_{};  // what CONNECTION_CLOSE will say
  std::optional<Error> error_;                  // sticky: once set the connection is dead
  int http3_error_ = 0;                         // an nghttp3 error raised inside a callback
  bool handshake_done_ = false;
  bool goaway_ = false;
  bool closed_ = false;
  bool unreachable_ = false;
  Exchange* active_ = nullptr;
  int64_t active_stream_ = -1;
  uint8_t tx_ecn_ = 0;
  TimePoint last_active_{};  // end of the handshake or of the last request
  std::vector<uint8_t> tx_buf_;
  std::vector<uint8_t> rx_buf_;
};

}  // namespace shoal::http::h3::detail
