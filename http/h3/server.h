// HTTP/3 for core's HTTP server: one UDP socket (by default on the TLS port's
// number), the routing of datagrams to QUIC connections by connection ID, and a
// driver per connection that feeds its sans-I/O h3::Session, runs its timer and
// runs a handler per request through the same mux::StreamExchange as HTTP/2. Internal.
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

class H3Connection final : public std::enable_shared_from_this<H3Connection>,
                           public mux::SessionTransport<h3::Session>,
                           public h3::CidRegistry {
 public:
  H3Connection(H3Endpoint& ep, std::string remote, std::string ip);
  ~H3Connection();
  Result<void> start(const h3::TlsContext& tls, const h3::Accepted& a,
                     std::span<const uint8_t> secret);

  void on_datagram(const ngtcp2_path& path, std::span<const uint8_t> data);
  // Sends what the session has, and keeps what the socket would not take.
  void write_out();
  void close_now(uint64_t h3_error);
  const std::vector<std::string>& keys() const { return keys_; }
  const std::string& ip() const { return ip_; }  // the client's, when it connected

  // The rest of mux::StreamTransport (all on the endpoint's strand).
  void flush() override;
  bool alive() const override { return alive_; }
  const ServerOptions& opts() const override { return ep_.context().opts; }
  asio::any_io_executor executor() override { return ep_.executor(); }

  // CidRegistry
  void add_cid(const ngtcp2_cid& cid, h3::Session* s) override;
  void remove_cid(const ngtcp2_cid& cid) override;

 private:
  void after_io();
  void arm_timer();
  void expire(mux::Clock::time_point now);
  void spawn_handlers();
  awaitable<void> serve_stream(std::shared_ptr<H3Connection> self, mux::Stream* stream);
  void end();

  H3Endpoint& ep_;
  std::string remote_;
  std::string ip_;
  asio::steady_timer timer_;
  mux::Clock::time_point armed_at_ = mux::Clock::time_point::max();  // the timer's expiry
  std::unique_ptr<uint8_t[]> out_;
  h3::Burst pending_;  // written, not yet taken by the socket
  std::vector<std::string> keys_;
  size_t handlers_ = 0;
  bool alive_ = true;
  bool flush_posted_ = false;
  bool touched_ = false;  // read from in this batch: the endpoint flushes it after
  bool ended_ = false;
  bool dying_ = false;
};

}  // namespace shoal::http::detail
