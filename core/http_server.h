// HTTP/1.1 server on Boost.Beast: keep-alive, timeouts against slow clients, a limit
// on the request head, optional TLS. Each request becomes an Exchange handed to one
// handler coroutine; the handler streams the request body in and the response out,
// so memory does not grow with body size.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/asio.h"
#include "core/error.h"
#include "core/metrics.h"

namespace shoal::http {

using Head = bhttp::response_header<>;
using RequestHead = bhttp::request_header<>;

enum class CongestionControl { reno, cubic, bbr2 };

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  unsigned threads = 2;
  std::chrono::milliseconds read_timeout{30'000};   // per read/write while a request is under way
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive wait for the next request
  uint32_t max_header_size = 16 * 1024;
  std::string tls_cert_file;  // both set: every connection is TLS
  std::string tls_key_file;
  std::string server_name = "shoal";
  // HTTP/2 on TLS connections whose client offers it by ALPN (h2); false: HTTP/1.1
  // only. Handlers see the same Exchange either way.
  bool http2 = true;
  // Streams a client may have open at once; also the most handlers one connection
  // runs (past it, reading pauses until handlers of reset streams finish).
  uint32_t h2_max_concurrent_streams = 100;
  uint32_t h2_stream_window = 1u << 20;       // request body bytes buffered per stream
  uint32_t h2_connection_window = 16u << 20;  // ... and on one connection in total
  // Rates past which a client gets GOAWAY ENHANCE_YOUR_CALM and is disconnected,
  // with bursts of two seconds' worth: RST_STREAMs it sends or provokes (rapid
  // reset), and SETTINGS plus PING frames (each costs us an acknowledgement).
  uint32_t h2_max_resets_per_second = 100;
  uint32_t h2_max_control_frames_per_second = 50;
  // HTTP/3 over QUIC on UDP, on the TLS listener's address and port number (TLS
  // only); HTTP/1.1 and HTTP/2 responses then carry Alt-Svc to advertise it.
  bool http3 = false;
  // QUIC address validation: a client's first Initial gets a Retry with a token it
  // must echo, which costs a round trip but stops spoofed-source amplification.
  bool h3_retry = false;
  // QUIC congestion control. BBRv2 keeps a loopback or LAN transfer at full rate where
  // CUBIC (ngtcp2 0.12) now and then leaves slow start early on RTT jitter and crawls
  // at a fifth of it (docs/BENCHMARKS.md); Reno and CUBIC are there for comparison.
  CongestionControl h3_congestion_control = CongestionControl::bbr2;
  // QUIC datagram payload sent to every client without path MTU discovery (a network
  // whose MTU is known: 8952 for jumbo frames); 0: discover, and send the loopback
  // MTU's worth to clients on this host (core/h3_datagram_size.h).
  uint32_t h3_max_udp_payload = 0;
  // A second listener without TLS next to a TLS one (the edge serves local clients
  // in plain HTTP/1.1); empty host: none. Port 0 picks a free port.
  std::string plain_host;
  uint16_t plain_port = 0;
  // Connections beyond these are closed as soon as they are accepted; 0: no limit.
  uint32_t max_connections = 0;
  uint32_t max_connections_per_client = 0;  // per remote IP address
};

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

struct ServerStats;

namespace detail {
class H3Endpoint;
}

class Server {
 public:
  // Binds and listens; throws std::runtime_error at start-up (bad address, port in
  // use, unreadable certificate).
  Server(ServerOptions opts, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  tcp::endpoint local_endpoint() const;
  std::string url() const;  // http(s)://host:port
  // The plain listener of ServerOptions::plain_host, if there is one.
  std::optional<tcp::endpoint> plain_endpoint() const;
  std::string plain_url() const;
  // The UDP port of the HTTP/3 listener, if there is one.
  std::optional<uint16_t> h3_port() const;
  // Adds the HTTP/3 endpoint's counters (datagrams, sends, timer wake-ups,
  // connections) to a component's registry, when there is an endpoint.
  void export_metrics(metrics::Registry& registry) const;
  asio::io_context& io_context() { return ioc_; }

  // Runs the event loop on opts.threads threads until stop() or SIGINT/SIGTERM;
  // returns after they join.
  void run();
  // Calls fn on the event loop every interval while the server runs (housekeeping:
  // expiring sessions, pruning peers).
  void every(std::chrono::milliseconds interval, std::function<void()> fn);
  void stop();

 private:
  struct ConnectionLimits;
  awaitable<void> accept_loop(tcp::acceptor& acceptor, bool tls);
  void spawn_connection(tcp::socket socket, bool tls);
  ServerOptions opts_;
  Handler handler_;
  asio::io_context ioc_;
  std::unique_ptr<asio::ssl::context> tls_;
  tcp::acceptor acceptor_;
  std::unique_ptr<tcp::acceptor> plain_acceptor_;
  std::shared_ptr<ConnectionLimits> limits_;
  std::string alt_svc_;
  std::unique_ptr<detail::H3Endpoint> h3_;
};

// Runs a blocking function on a shared thread pool and resumes the caller on its own
// executor afterwards: for fsync and other calls that may block for long.
template <class F>
awaitable<std::invoke_result_t<F>> offload(F fn);

asio::thread_pool& blocking_pool();

}  // namespace shoal::http

#include "core/http_offload.h"
