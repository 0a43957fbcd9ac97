#include "http/h3/endpoint.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

#include <cstring>
#include <stdexcept>

#include "core/log.h"
#include "http/h3/connection.h"

namespace shoal::http::detail {
namespace {

constexpr size_t kRecvBatch = 16;          // datagrams per recvmmsg
constexpr size_t kRecvBuffer = 64 * 1024;  // per datagram: loopback allows jumbo ones
constexpr int kSocketBuffer = 8 << 20;     // SO_RCVBUF / SO_SNDBUF, capped by the sysctls
constexpr ngtcp2_duration kRetryTokenLife = 10 * NGTCP2_SECONDS;


std::string ip_of(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, host, sizeof host);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, host, sizeof host);
  }
  return host;
}

std::string remote_string(const sockaddr* sa) {
  uint16_t port = sa->sa_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(sa)->sin_port
                                           : reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port;
  return ip_of(sa) + ":" + std::to_string(ntohs(port));
}

h3::SessionOptions h3_options(const ServerOptions& o) {
  h3::SessionOptions s;
  s.max_streams = o.max_concurrent_streams;
  s.stream_window = o.h2_stream_window;
  s.connection_window = o.h2_connection_window;
  s.max_header_list = o.max_header_size;
  s.idle_timeout = o.idle_timeout;
  s.server_name = o.server_name;
  switch (o.h3_congestion_control) {
    case CongestionControl::reno: s.congestion_control = NGTCP2_CC_ALGO_RENO; break;
    case CongestionControl::cubic: s.congestion_control = NGTCP2_CC_ALGO_CUBIC; break;
    case CongestionControl::bbr2: s.congestion_control = NGTCP2_CC_ALGO_BBR2; break;
  }
  s.datagrams.fixed = o.h3_max_udp_payload;
  s.datagrams.loopback = h3::loopback_udp_payload();
  return s;
}

}  // namespace

// --- endpoint --------------------------------------------------------------------

H3Endpoint::H3Endpoint(asio::io_context& ioc, ConnectionContext ctx, const std::string& host,
                       uint16_t port)
    : ctx_(ctx),
      strand_(asio::make_strand(ioc)),
      socket_(strand_),
      tls_(std::make_unique<h3::TlsContext>(ctx.opts.tls_cert_file, ctx.opts.tls_key_file)),
      session_opts_(h3_options(ctx.opts)),
      secret_(32) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("HTTP/3 listen address \"" + host + "\" is not an IP address");
  udp::endpoint ep{addr, port};
  socket_.open(ep.protocol(), ec);
  if (!ec) socket_.bind(ep, ec);
  if (ec) {
    throw std::runtime_error("cannot listen for HTTP/3 on udp " + host + ":" +
                             std::to_string(port) + ": " + ec.message());
  }
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::socket_base::receive_buffer_size(kSocketBuffer), ec);
  socket_.set_option(asio::socket_base::send_buffer_size(kSocketBuffer), ec);
  local_ = socket_.local_endpoint();
  gnutls_rnd(GNUTLS_RND_RANDOM, secret_.data(), secret_.size());
}

H3Endpoint::~H3Endpoint() = default;

void H3Endpoint::start() {
  asio::co_spawn(strand_, receive_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("HTTP/3 listener failed", {{"error", ex.what()}});
    }
  });
}

void H3Endpoint::stop() {
  asio::post(strand_, [this] {
    stopped_ = true;
    for (auto& c : std::vector(conns_)) c->close_now(NGHTTP3_H3_NO_ERROR);
    beast::error_code ec;
    socket_.close(ec);
  });
}

awaitable<void> H3Endpoint::receive_loop() {
  std::vector<uint8_t> bufs(kRecvBatch * kRecvBuffer);
  std::array<mmsghdr, kRecvBatch> msgs{};
  std::array<iovec, kRecvBatch> iovs{};
  std::array<sockaddr_storage, kRecvBatch> addrs{};
  ngtcp2_path path{};
  path.local.addr = const_cast<sockaddr*>(local_.data());
  path.local.addrlen = static_cast<ngtcp2_socklen>(local_.size());
  for (;;) {
    beast::error_code ec;
    co_await socket_.async_wait(udp::socket::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped_) co_return;
    // Drain what has queued up, a batch per system call.
    for (;;) {
      for (size_t i = 0; i < kRecvBatch; ++i) {
        iovs[i] = {bufs.data() + i * kRecvBuffer, kRecvBuffer};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(socket_.native_handle(), msgs.data(), kRecvBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      H3Stats::add(stats_->datagrams_received, static_cast<uint64_t>(n));
      for (int i = 0; i < n && !stopped_; ++i) {
        path.remote.addr = reinterpret_cast<sockaddr*>(&addrs[i]);
        path.remote.addrlen = msgs[i].msg_hdr.msg_namelen;
        on_datagram(path, {bufs.data() + i * kRecvBuffer, msgs[i].msg_len});
      }
      flush_touched();
      if (static_cast<size_t>(n) < kRecvBatch) break;
      // More are queued: let the writes this batch asked for go out first, so a
      // stream of ACKs cannot hold back the data they make room for.
      co_await asio::post(strand_, asio::use_awaitable);
      if (stopped_) co_return;
    }
  }
}

// Once per read batch, not per datagram: a client's ACK (or window update) and its
// next request often arrive together, and a flush posted for the first would run
// before the handler the second starts, sending the ACK in a packet of its own.
void H3Endpoint::flush_touched() {
  for (auto& conn : touched_) conn->flush();
  touched_.clear();
}

void H3Endpoint::touched(std::shared_ptr<H3Connection> conn) {
  touched_.push_back(std::move(conn));
}

void H3Endpoint::on_datagram(const ngtcp2_path& path, std::span<const uint8_t> data) {
  ngtcp2_version_cid vc;
  int rv = ngtcp2_pkt_decode_version_cid(&vc, data.data(), data.size(), h3::kCidLen);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) return send_version_negotiation(path, vc);
  if (rv != 0) return;  // not QUIC: dropped without a word
  if (auto it = by_cid_.find(cid_key(vc.dcid, vc.dcidlen)); it != by_cid_.end()) {
    auto conn = it->second;  // the connection may unroute itself while it reads
    conn->on_datagram(path, data);
    return;
  }
  if ((data[0] & 0x80) == 0) return send_stateless_reset(path, data.size(), vc);
  accept(path, data);
}

void H3Endpoint::accept(const ngtcp2_path& path, std::span<const uint8_t> data) {
  ngtcp2_pkt_hd hd;
  if (ngtcp2_accept(&hd, data.data(), data.size()) != 0) return;
  const auto& o = ctx_.opts;
  std::string ip = ip_of(path.remote.addr);
  uint32_t limit = o.max_connections, per_client = o.max_connections_per_client;
  if (stopped_ || (limit != 0 && conns_.size() >= limit) ||
      (per_client != 0 && per_ip_[ip] >= per_client)) {
    if (per_ip_[ip] == 0) per_ip_.erase(ip);
    H3Stats::add(stats_->connections_refused);
    return send_close(path, hd, NGTCP2_CONNECTION_REFUSED);
  }
  h3::Accepted a{hd, nullptr, path};
  ngtcp2_cid odcid;
  auto ts = h3::timestamp(mux::Clock::now());
  if (o.h3_retry) {
    if (hd.token.len == 0 || hd.token.base[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
      return send_retry(path, hd);
    }
    if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, secret_.data(),
                                         secret_.size(), hd.version, path.remote.addr,
                                         path.remote.addrlen, &hd.dcid, kRetryTokenLife, ts) != 0) {
      return send_close(path, hd, NGTCP2_INVALID_TOKEN);
    }
    a.odcid = &odcid;
  }
  auto conn = std::make_shared<H3Connection>(*this, remote_string(path.remote.addr), ip);
  // Before start(): the session registers its connection IDs as it is made.
  conns_.push_back(conn);
  stats_->connections.store(conns_.size(), std::memory_order_relaxed);
  ++per_ip_[ip];
  // The client's first DCID too: a ClientHello split across two Initials (Chromium's
  // post-quantum one) must reach the same connection.
  conn->add_cid(hd.dcid, nullptr);
  if (auto ok = conn->start(*tls_, a, secret_); !ok) {
    log::debug("HTTP/3 connection refused",
               {{"remote", remote_string(path.remote.addr)}, {"error", ok.error().message}});
    finished(*conn);
    return;
  }
  conn->on_datagram(path, data);
}

void H3Endpoint::route(const ngtcp2_cid& cid, std::shared_ptr<H3Connection> conn) {
  by_cid_[cid_key(cid)] = std::move(conn);
}

void H3Endpoint::unroute(const ngtcp2_cid& cid) { by_cid_.erase(cid_key(cid)); }

void H3Endpoint::finished(H3Connection& conn) {
  for (const auto& k : conn.keys()) {
    auto it = by_cid_.find(k);
    if (it != by_cid_.end() && it->second.get() == &conn) by_cid_.erase(it);
  }
  auto counted = std::erase_if(conns_, [&](const auto& c) { return c.get() == &conn; });
  stats_->connections.store(conns_.size(), std::memory_order_relaxed);
  if (auto it = per_ip_.find(conn.ip()); counted > 0 && it != per_ip_.end() && --it->second == 0) {
    per_ip_.erase(it);
  }
  std::erase_if(blocked_, [&](const auto& c) { return c.get() == &conn; });
}

bool H3Endpoint::send(const h3::Burst& b) {
  if (b.size == 0) return true;
  iovec iov{b.data, b.size};
  msghdr msg{};
  msg.msg_name = const_cast<ngtcp2_sockaddr_union*>(&b.path.remote_addrbuf);
  msg.msg_namelen = b.path.path.remote.addrlen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
  if (gso_ && b.size > b.segment) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    auto seg = static_cast<uint16_t>(b.segment);
    std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
  }
  for (;;) {
    ssize_t n = sendmsg(socket_.native_handle(), &msg, 0);
    if (n >= 0) {
      H3Stats::add(stats_->send_calls);
      H3Stats::add(stats_->datagrams_sent,
                   (b.size + b.segment - 1) / std::max<size_t>(1, b.segment));
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    if (gso_ && (errno == EIO || errno == EINVAL) && msg.msg_control != nullptr) {
      // No GSO here (a device without checksum offload): one datagram per call.
      gso_ = false;
      log::info("HTTP/3: UDP GSO unavailable, sending datagrams one by one");
    }
    if (!gso_ && b.size > b.segment) {
      for (size_t off = 0; off < b.size; off += b.segment) {
        iovec one{b.data + off, std::min(b.segment, b.size - off)};
        msg.msg_iov = &one;
        msg.msg_control = nullptr;
        msg.msg_controllen = 0;
        if (sendmsg(socket_.native_handle(), &msg, 0) < 0) {
          if (errno == EAGAIN) return false;
          continue;
        }
        H3Stats::add(stats_->send_calls);
        H3Stats::add(stats_->datagrams_sent);
      }
      return true;
    }
    return true;  // other errors (unreachable peer): QUIC treats the packets as lost
  }
}

void H3Endpoint::wait_writable(std::shared_ptr<H3Connection> conn) {
  blocked_.push_back(std::move(conn));
  if (waiting_writable_) return;
  waiting_writable_ = true;
  socket_.async_wait(udp::socket::wait_write,
                     asio::bind_executor(strand_, [this](beast::error_code ec) {
                       waiting_writable_ = false;
                       if (ec) return;
                       auto waiting = std::move(blocked_);
                       blocked_.clear();
                       for (auto& c : waiting) c->write_out();
                     }));
}

void H3Endpoint::send_raw(const ngtcp2_path& path, const uint8_t* data, size_t n) {
  beast::error_code ec;
  udp::endpoint to;
  std::memcpy(to.data(), path.remote.addr, path.remote.addrlen);
  socket_.send_to(asio::buffer(data, n), to, 0, ec);
  if (!ec) {
    H3Stats::add(stats_->send_calls);
    H3Stats::add(stats_->datagrams_sent);
  }
}

void H3Endpoint::send_version_negotiation(const ngtcp2_path& path, const ngtcp2_version_cid& vc) {
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  uint8_t unused;
  gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
  auto n = ngtcp2_pkt_write_version_negotiation(buf, sizeof buf, unused, vc.scid, vc.scidlen,
                                                vc.dcid, vc.dcidlen, versions, 1);
  if (n > 0) send_raw(path, buf, static_cast<size_t>(n));
}

// A packet for a connection we do not know (it ended, or this process restarted):
// the reset tells the client at once instead of after its idle timeout. Smaller than
// what arrived, so two endpoints cannot keep resetting each other.
void H3Endpoint::send_stateless_reset(const ngtcp2_path& path, size_t got,
                                      const ngtcp2_version_cid& vc) {
  constexpr size_t kMin = NGTCP2_STATELESS_RESET_TOKENLEN + 5;
  if (got < kMin + 1 || vc.dcidlen != h3::kCidLen) return;
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, vc.dcid, vc.dcidlen);
  uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
  if (ngtcp2_crypto_generate_stateless_reset_token(token, secret_.data(), secret_.size(), &cid) !=
      0)
    return;
  size_t randlen =
      std::min<size_t>(got - 1, NGTCP2_MAX_UDP_PAYLOAD_SIZE) - NGTCP2_STATELESS_RESET_TOKENLEN;
  uint8_t rand[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  gnutls_rnd(GNUTLS_RND_NONCE, rand, randlen);
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  auto n = ngtcp2_pkt_write_stateless_reset(buf, sizeof buf, token, rand, randlen);
  if (n > 0) send_raw(path, buf, static_cast<size_t>(n));
}

void H3Endpoint::send_retry(const ngtcp2_path& path, const ngtcp2_pkt_hd& hd) {
  ngtcp2_cid scid;
  scid.datalen = h3::kCidLen;
  gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  auto ts = h3::timestamp(mux::Clock::now());
  uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
  auto tokenlen = ngtcp2_crypto_generate_retry_token(token, secret_.data(), secret_.size(),
                                                     hd.version, path.remote.addr,
                                                     path.remote.addrlen, &scid, &hd.dcid, ts);
  if (tokenlen < 0) return;
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  auto n = ngtcp2_crypto_write_retry(buf, sizeof buf, hd.version, &hd.scid, &scid, &hd.dcid, token,
                                     static_cast<size_t>(tokenlen));
  if (n > 0) send_raw(path, buf, static_cast<size_t>(n));
}

void H3Endpoint::send_close(const ngtcp2_path& path, const ngtcp2_pkt_hd& hd, uint64_t error) {
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  auto n = ngtcp2_crypto_write_connection_close(buf, sizeof buf, hd.version, &hd.scid, &hd.dcid,
                                                error, nullptr, 0);
  if (n > 0) send_raw(path, buf, static_cast<size_t>(n));
}

// --- connection ------------------------------------------------------------------

}  // namespace shoal::http::detail
