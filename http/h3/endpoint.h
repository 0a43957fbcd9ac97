// HTTP/3's listener: one UDP socket (by default on the TLS port's number), batched
// receives and GSO sends, and the routing of datagrams to QUIC connections
// (http/h3/connection.h) by connection ID; Retry, version negotiation and stateless
// reset for datagrams no connection owns. Internal to the HTTP server.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/h3/session.h"
#include "http/h1/connection.h"
#include "http/mux/stream_exchange.h"

namespace shoal::http::detail {

using udp = asio::ip::udp;
class H3Connection;

// The connection-ID bytes as a map key.
inline std::string cid_key(const uint8_t* data, size_t len) {
  return {reinterpret_cast<const char*>(data), len};
}
inline std::string cid_key(const ngtcp2_cid& cid) { return cid_key(cid.data, cid.datalen); }

// What the endpoint has done, for /metrics: written on the strand, read by scrapes.
struct H3Stats {
  std::atomic<uint64_t> datagrams_received{0};
  std::atomic<uint64_t> datagrams_sent{0};
  std::atomic<uint64_t> send_calls{0};  // sendmsg calls: datagrams_sent / send_calls = GSO batch
  std::atomic<uint64_t> timer_wakeups{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> connections_refused{0};

  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // one writer
  }
};

class H3Endpoint {
 public:
  // Binds the UDP socket; throws std::runtime_error at start-up.
  H3Endpoint(asio::io_context& ioc, ConnectionContext ctx, const std::string& host, uint16_t port);
  ~H3Endpoint();
  H3Endpoint(const H3Endpoint&) = delete;
  H3Endpoint& operator=(const H3Endpoint&) = delete;

  udp::endpoint local_endpoint() const { return local_; }
  void start();
  // Closes every connection with H3_NO_ERROR and the socket (server stop).
  void stop();

  // For connections, on the strand.
  void route(const ngtcp2_cid& cid, std::shared_ptr<H3Connection> conn);
  void unroute(const ngtcp2_cid& cid);
  // Sends one burst; false when the socket's buffer is full (the caller keeps it and
  // is called again through resume() once the socket is writable).
  bool send(const h3::Burst& b);
  void wait_writable(std::shared_ptr<H3Connection> conn);
  void finished(H3Connection& conn);
  // The connection read a datagram of the current batch: flush it when the batch ends.
  void touched(std::shared_ptr<H3Connection> conn);
  const h3::SessionOptions& session_options() const { return session_opts_; }
  const ConnectionContext& context() const { return ctx_; }
  asio::any_io_executor executor() const { return strand_; }
  const std::shared_ptr<H3Stats>& stats() const { return stats_; }

 private:
  awaitable<void> receive_loop();
  void on_datagram(const ngtcp2_path& path, std::span<const uint8_t> data);
  void flush_touched();
  void accept(const ngtcp2_path& path, std::span<const uint8_t> data);
  void send_version_negotiation(const ngtcp2_path& path, const ngtcp2_version_cid& vc);
  void send_stateless_reset(const ngtcp2_path& path, size_t got, const ngtcp2_version_cid& vc);
  void send_retry(const ngtcp2_path& path, const ngtcp2_pkt_hd& hd);
  void send_close(const ngtcp2_path& path, const ngtcp2_pkt_hd& hd, uint64_t error);
  void send_raw(const ngtcp2_path& path, const uint8_t* data, size_t n);

  ConnectionContext ctx_;
  asio::strand<asio::io_context::executor_type> strand_;
  udp::socket socket_;
  udp::endpoint local_;
  std::unique_ptr<h3::TlsContext> tls_;
  h3::SessionOptions session_opts_;
  std::vector<uint8_t> secret_;  // stateless reset and Retry tokens
  std::unordered_map<std::string, std::shared_ptr<H3Connection>> by_cid_;
  std::vector<std::shared_ptr<H3Connection>> conns_;
  std::unordered_map<std::string, uint32_t> per_ip_;  // open connections by client address
  std::vector<std::shared_ptr<H3Connection>> blocked_;
  std::vector<std::shared_ptr<H3Connection>> touched_;  // read from in this batch
  std::shared_ptr<H3Stats> stats_ = std::make_shared<H3Stats>();
  bool waiting_writable_ = false;
  bool gso_ = true;
  bool stopped_ = false;
};

}  // namespace shoal::http::detail
