// An HTTP/3 client for sans-I/O tests of the server session (tests/unit/http/h3):
// ngtcp2's client connection under GnuTLS without certificate checks, nghttp3 on top,
// on a clock the test steps. It never touches a socket: write() hands back the
// datagrams to send and read() takes the ones that arrive, so a test moves them
// between client and server itself and can drop, reorder or readdress them.
//
// It keeps what a test asserts on (every response's fields, body, FIN, resets and
// close codes; the server's GOAWAY; datagrams it could not read) and can step outside
// HTTP/3: raw bytes on a stream, 0-RTT resumption, NAT rebinding, manual flow credit.
// The socket-bound h3::Client (http/h3/client.h) cannot do that; this one shares its
// owners for the library handles (http/h3/client_conn.h) and the session's clock
// conversion (h3::timestamp).
#pragma once

#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "http/h3/client_conn.h"
#include "http/h3/session.h"

namespace shoal::test::quic {

using Clock = http::h3::Clock;
using Datagram = std::vector<uint8_t>;

// ngtcp2's timestamps back to the test's clock; UINT64_MAX (no timer) is "never".
Clock::time_point from_timestamp(ngtcp2_tstamp t);

// The two ends' addresses; the client's port tells connections apart.
struct Addresses {
  explicit Addresses(uint16_t client_port);
  ngtcp2_path client_path();
  ngtcp2_path server_path();
  sockaddr_in client{};
  sockaddr_in server{};
};

// What came back on one request stream.
struct Reply {
  std::map<std::string, std::string> headers;
  std::string body;
  bool ended = false;       // the response ended with FIN (nghttp3 end_stream)
  bool closed = false;      // the stream is closed at both ends
  uint64_t close_code = 0;  // ... with this HTTP/3 error code
  bool reset = false;       // the server sent RESET_STREAM
  uint64_t reset_code = 0;
};

class Client {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  // What a first connection leaves for resuming with 0-RTT.
  struct Resumption {
    std::vector<uint8_t> session;  // GnuTLS session data with the server's ticket
    ngtcp2_transport_params params{};
  };

  struct Options {
    const Resumption* resume = nullptr;  // resume this session, request in 0-RTT
    uint64_t stream_window = 16u << 20;
    uint64_t connection_window = 32u << 20;
    bool manual_consume = false;  // response body credit returns only through consume()
    const char* alpn = "h3";
  };

  // Throws std::runtime_error when ngtcp2 or nghttp3 refuse to set up.
  Client(Addresses& addr, Clock::time_point now) : Client(addr, now, Options{}) {}
  Client(Addresses& addr, Clock::time_point now, Options o);
  ~Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // After the handshake and the server's ticket: what a later connection resumes.
  std::optional<Resumption> resumption() const;
  bool early_data_accepted() const;

  bool ready() const { return handshake_done && h3_ != nullptr && !dead(); }
  bool dead() const { return draining || closed_by_us || !error.empty(); }
  uint64_t bidi_left() const;

  // A request on a new stream; -1 without stream credit.
  int64_t request(const std::string& method, const std::string& path, Fields extra = {},
                  const std::string* body = nullptr);
  // A request with exactly these fields, pseudo-headers included.
  int64_t submit(Fields fields, const std::string* body = nullptr);

  // NAT rebinding: the client's packets now come from another port, without notice.
  void rebind(uint16_t port);
  // Response body bytes read: credit for the server (manual_consume).
  void consume(int64_t id, size_t n);
  // Gives up on a request: RESET_STREAM and STOP_SENDING.
  void cancel(int64_t id);
  // CONNECTION_CLOSE with an HTTP/3 code; the client is done after that.
  void close(uint64_t h3_error, Clock::time_point now);

  // A request stream nghttp3 knows nothing about, for bytes written by hand.
  int64_t open_raw();
  // `bytes` on stream `id` as they are, bypassing nghttp3's framing.
  void send_raw(int64_t id, std::span<const uint8_t> bytes, bool fin, Clock::time_point now);

  // Every datagram the client wants to send now.
  std::vector<Datagram> write(Clock::time_point now);
  void read(std::span<const uint8_t> dg, Clock::time_point now);
  Clock::time_point expiry() const;
  void handle_expiry(Clock::time_point now);

  bool handshake_done = false;
  bool draining = false;  // the server closed the connection
  bool closed_by_us = false;
  int64_t goaway_id = -1;  // the server's GOAWAY, if any
  size_t unreadable = 0;   // datagrams ngtcp2 could not decode or decrypt
  std::vector<std::string> unreadable_lines;
  ngtcp2_connection_close_error peer_close{};
  std::string error;
  std::map<int64_t, Reply> replies;

 private:
  struct Upload {
    const std::string* body;
    size_t pos;
  };

  void init_tls(const Options& o);
  void init_quic(Clock::time_point now, const Options& o);
  int init_h3();
  size_t max_payload() const;

  static Client& self(void* u) { return *static_cast<Client*>(u); }
  static void log(void* u, const char* format, ...);
  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref);
  static int on_ticket(gnutls_session_t session, unsigned, unsigned, unsigned,
                       const gnutls_datum_t*);
  static int on_rx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* user);
  static int on_stream_data(ngtcp2_conn* conn, uint32_t flags, int64_t id, uint64_t,
                            const uint8_t* data, size_t len, void* u, void*);
  static int on_acked(ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* u, void*);
  static int on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t code, void* u,
                             void*);
  static int on_stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t code, void* u, void*);
  static int on_stop_sending(ngtcp2_conn*, int64_t id, uint64_t, void* u, void*);
  static int on_extend_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* u, void*);
  static nghttp3_ssize read_upload(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t veccnt,
                                   uint32_t* flags, void* u, void*);

  Addresses& addr_;
  bool manual_;
  // Declared in dependency order: destroyed from nghttp3 down to the credentials.
  std::unique_ptr<gnutls_certificate_credentials_st, http::h3::detail::CredentialsDeleter> creds_;
  std::unique_ptr<gnutls_session_int, http::h3::detail::SessionDeleter> tls_;
  ngtcp2_crypto_conn_ref ref_{};
  std::unique_ptr<ngtcp2_conn, http::h3::detail::QuicDeleter> conn_;
  std::unique_ptr<nghttp3_conn, http::h3::detail::Http3Deleter> h3_;
  std::map<int64_t, Upload> uploads_;
  std::vector<Datagram> outbox_;
  std::vector<uint8_t> ticket_;
  std::set<int64_t> raw_;  // streams written by hand, unknown to nghttp3
};

}  // namespace shoal::test::quic
