// One HTTP/3 connection: the driver that feeds its sans-I/O h3::Session the datagrams
// the endpoint routes to it, runs its timer (with pacing), writes what the session
// produces through the endpoint's socket, and runs a handler per request through the
// same mux::StreamExchange as HTTP/2. Internal to the HTTP server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/h3/endpoint.h"

namespace shoal::http::detail {

// The buffer one GSO send is written into.
constexpr size_t kH3BurstBytes = 64 * 1024;

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
