// The listener: TCP (plain or TLS) and, with TLS, UDP for HTTP/3. Each connection gets
// the front end its protocol needs (http/h1, http/h2 after ALPN, http/h3), and each
// request becomes an Exchange handed to one handler coroutine; the handler streams the
// request body in and the response out, so memory does not grow with body size. The
// only file that knows all three front ends.
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
#include "http/exchange.h"

namespace shoal::http {

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
  uint32_t max_concurrent_streams = 100;
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
  // MTU's worth to clients on this host (http/h3/datagram_size.h).
  uint32_t h3_max_udp_payload = 0;
  // A second listener without TLS next to a TLS one (the edge serves local clients
  // in plain HTTP/1.1); empty host: none. Port 0 picks a free port.
  std::string plain_host;
  uint16_t plain_port = 0;
  // Connections beyond these are closed as soon as they are accepted; 0: no limit.
  uint32_t max_connections = 0;
  uint32_t max_connections_per_client = 0;  // per remote IP address
};

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

}  // namespace shoal::http
