// The h3 client's event loop: poll() on the one UDP socket, timed by ngtcp2's expiry.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "http/h3/client_conn.h"
#include "http/h3/client_util.h"

namespace shoal::http::h3::detail {

namespace {

// Datagrams taken in before writing again: ACKs must go out while a fast sender
// keeps the socket full, or its congestion window stalls.
constexpr size_t kReadBurst = 64;

// With UDP_GRO one read may hold several datagrams of one size (the last may be
// shorter): the size, or 0 for a single datagram.
size_t gro_segment(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? static_cast<size_t>(size) : 0;
    }
  }
  return 0;
}

uint8_t ecn_of(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && c->cmsg_len > 0) {
      return *CMSG_DATA(c) & NGTCP2_ECN_MASK;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int tclass = 0;
      std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
      return static_cast<uint8_t>(tclass & NGTCP2_ECN_MASK);
    }
  }
  return 0;
}

int poll_ms(ngtcp2_duration ns) {
  constexpr ngtcp2_duration kMaxWait = 1000 * NGTCP2_MILLISECONDS;  // re-check deadlines
  ns = std::min(ns, kMaxWait);
  return static_cast<int>((ns + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS);
}

}  // namespace

Result<void> Connection::run_until(const std::function<bool()>& done,
                                   std::optional<TimePoint> deadline,
                                   std::optional<Clock::duration> answer_within) {
  auto start = Clock::now();
  auto last_heard = start;
  bool heard_any = false;
  for (;;) {
    if (error_) return *error_;
    if (done()) return {};
    if (auto ok = write_packets(); !ok) return ok;
    auto now = Clock::now();
    auto until = deadline ? *deadline : last_heard + opt_.io_timeout;
    if (answer_within && !heard_any) {
      if (now >= start + *answer_within) {
        closed_ = true;  // the server has no state for it: nothing to close
        return fail(Errc::unavailable,
                    "no answer from " + url_.endpoint() + " on the reused QUIC connection");
      }
      until = std::min(until, start + *answer_within);
    }
    if (now >= until) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline ? opt_.connect_timeout : opt_.io_timeout);
      return fail(Errc::timed_out, (deadline ? "QUIC handshake with " : "HTTP/3 response from ") +
                                       url_.endpoint() + " timed out after " +
                                       std::to_string(ms.count()) + " ms");
    }
    ngtcp2_tstamp ts = now_ts();
    ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(quic_.get());
    ngtcp2_duration wait =
        std::min<ngtcp2_duration>(expiry > ts ? expiry - ts : 0, to_ns(until - now));
    pollfd pfd{fd_.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, poll_ms(wait));
    if (n < 0 && errno != EINTR)
      return fail(Errc::io_error, std::string("poll: ") + std::strerror(errno));
    if (n > 0) {
      bool heard = false;
      if (auto ok = read_packets(heard); !ok) return ok;
      if (heard) last_heard = Clock::now();
      heard_any = heard_any || heard;
    }
    if (now_ts() >= ngtcp2_conn_get_expiry(quic_.get())) {
      if (auto ok = handle_timer(); !ok) return ok;
    }
  }
}

Result<void> Connection::read_packets(bool& heard) {
  for (size_t fed = 0; fed < kReadBurst;) {
    iovec iov{rx_buf_.data(), rx_buf_.size()};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int)) * 3> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      if (errno == EINTR) continue;
      closed_ = unreachable_ = true;  // nobody to say goodbye to
      return fail(Errc::unavailable,
                  "no QUIC server at " + url_.endpoint() + " (UDP): " + std::strerror(errno));
    }
    heard = true;
    const auto size = static_cast<size_t>(n);
    if (size == 0) {
      ++fed;
      continue;
    }
    const size_t segment = gro_segment(msg);
    const size_t step = segment == 0 ? size : segment;
    const uint8_t ecn = ecn_of(msg);
    for (size_t off = 0; off < size; off += step, ++fed) {
      if (auto ok = feed_packet(rx_buf_.data() + off, std::min(step, size - off), ecn); !ok)
        return ok;
    }
  }
  return {};
}

Result<void> Connection::feed_packet(const uint8_t* data, size_t len, uint8_t ecn) {
  ngtcp2_path path{{reinterpret_cast<ngtcp2_sockaddr*>(&local_), local_len_},
                   {reinterpret_cast<ngtcp2_sockaddr*>(&remote_), remote_len_},
                   nullptr};
  ngtcp2_pkt_info pi{};
  pi.ecn = ecn;
  int rv = ngtcp2_conn_read_pkt(quic_.get(), &path, &pi, data, len, now_ts());
  switch (rv) {
    case 0: return {};
    case NGTCP2_ERR_DRAINING:  // CONNECTION_CLOSE or a stateless reset from the server
      return peer_closed();
    case NGTCP2_ERR_CRYPTO: return crypto_failure();
    case NGTCP2_ERR_DROP_CONN:
      closed_ = true;
      return fail(Errc::unavailable, "QUIC connection to " + url_.endpoint() + " dropped");
    case NGTCP2_ERR_CALLBACK_FAILURE:
      if (http3_error_ != 0) return fail_http3(http3_error_, "reading a stream");
      return fail_quic(rv, "reading a packet");
    default: return fail_quic(rv, "reading a packet");
  }
}

Result<void> Connection::handle_timer() {
  int rv = ngtcp2_conn_handle_expiry(quic_.get(), now_ts());
  if (rv == 0) return {};
  closed_ = true;  // both below end the connection silently, as QUIC prescribes
  if (rv == NGTCP2_ERR_IDLE_CLOSE) {
    return fail(Errc::timed_out, "QUIC connection to " + url_.endpoint() + " idle timed out");
  }
  if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
    return fail(Errc::timed_out, "QUIC handshake with " + url_.endpoint() + " timed out after " +
                                     std::to_string(opt_.connect_timeout.count()) + " ms");
  }
  closed_ = false;
  return fail_quic(rv, "timer");
}

Result<void> Connection::write_packets() {
  std::array<nghttp3_vec, 16> vec{};
  for (;;) {
    if (error_) return *error_;
    if (closed_) return {};
    int64_t stream_id = -1;
    int fin = 0;
    nghttp3_ssize count = 0;
    if (h3_ && ngtcp2_conn_get_max_data_left(quic_.get()) > 0) {
      count = nghttp3_conn_writev_stream(h3_.get(), &stream_id, &fin, vec.data(), vec.size());
      if (count < 0) return fail_http3(static_cast<int>(count), "writing a stream");
    }
    bool more = false;
    if (auto ok = write_one(stream_id, fin, vec.data(), static_cast<size_t>(count), more); !ok) {
      return ok;
    }
    if (!more) return {};
  }
}

// One call of ngtcp2_conn_writev_stream: a packet with stream data from nghttp3 (if
// any) and whatever ngtcp2 itself has to send (ACKs, flow control, handshake).
Result<void> Connection::write_one(int64_t stream_id, int fin, const nghttp3_vec* vec,
                                   size_t veccnt, bool& more) {
  uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
  ngtcp2_ssize accepted = -1;
  ngtcp2_pkt_info pi{};
  ngtcp2_tstamp ts = now_ts();
  size_t max_size = std::min(tx_buf_.size(), ngtcp2_conn_get_max_tx_udp_payload_size(quic_.get()));
  ngtcp2_ssize n = ngtcp2_conn_writev_stream(quic_.get(), nullptr, &pi, tx_buf_.data(), max_size,
                                             &accepted, flags, stream_id,
                                             reinterpret_cast<const ngtcp2_vec*>(vec), veccnt, ts);
  more = true;
  if (n < 0) {
    switch (n) {
      case NGTCP2_ERR_STREAM_DATA_BLOCKED:
        nghttp3_conn_block_stream(h3_.get(), stream_id);
        return {};
      case NGTCP2_ERR_STREAM_SHUT_WR:
        nghttp3_conn_shutdown_stream_write(h3_.get(), stream_id);
        return {};
      case NGTCP2_ERR_WRITE_MORE:  // room left in the packet: coalesce more stream data
        break;
      default: return fail_quic(static_cast<int>(n), "writing a packet");
    }
  }
  if (accepted >= 0) {
    int rv = nghttp3_conn_add_write_offset(h3_.get(), stream_id, static_cast<size_t>(accepted));
    if (rv != 0) return fail_http3(rv, "writing a stream");
  }
  if (n == NGTCP2_ERR_WRITE_MORE) return {};
  if (n == 0) {  // nothing more to send, or congestion/pacing limited
    ngtcp2_conn_update_pkt_tx_time(quic_.get(), ts);
    more = false;
    return {};
  }
  return send_datagram(tx_buf_.data(), static_cast<size_t>(n), pi.ecn);
}

Result<void> Connection::send_datagram(const uint8_t* data, size_t len, uint8_t ecn) {
  if (ecn != tx_ecn_) {  // ngtcp2 probes ECN on the path; mark packets as it asks
    int tos = ecn;
    if (remote_.ss_family == AF_INET6) {
      (void)setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    } else {
      (void)setsockopt(fd_.get(), IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    }
    tx_ecn_ = ecn;
  }
  for (;;) {
    if (::send(fd_.get(), data, len, 0) >= 0) return {};
    if (errno == EINTR) continue;
    // A full socket buffer loses the datagram; QUIC's loss recovery resends it.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return {};
    closed_ = unreachable_ = true;
    return fail(Errc::unavailable,
                "no QUIC server at " + url_.endpoint() + " (UDP): " + std::strerror(errno));
  }
}

}  // namespace shoal::http::h3::detail
