// The HTTP/3 protocol of one QUIC connection, over ngtcp2 and nghttp3 and without
// I/O (ngtcp2's own shape): fed datagrams and the time, it writes the datagrams to
// send and hands out a Stream per request, the same Stream the HTTP/2 session makes,
// so both feed one StreamExchange. The caller (h3_server) moves the datagrams,
// runs the timer and makes every call from one strand.
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "http/mux/headers.h"
#include "http/mux/stream.h"
#include "http/h3/datagram_size.h"
#include "http/h3/tls.h"

struct nghttp3_conn;
typedef struct gnutls_session_int* gnutls_session_t;

namespace shoal::http::h3 {

using mux::BodySource;
using mux::Clock;
using mux::Field;
using mux::Stream;

// Length of the connection IDs the server issues; the endpoint finds the session of
// a short-header packet by this many bytes after the first.
constexpr size_t kCidLen = 18;

// ngtcp2's clock: nanoseconds of the steady clock. One conversion for the session
// and the endpoint, whose Retry tokens the session's ngtcp2 must read the same way.
inline ngtcp2_tstamp timestamp(Clock::time_point t) {
  return static_cast<ngtcp2_tstamp>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

struct SessionOptions {
  uint32_t max_streams = 100;              // request streams open at once
  uint64_t stream_window = 1u << 20;       // request body bytes buffered per stream
  uint64_t connection_window = 16u << 20;  // ... and on the whole connection
  uint32_t max_header_list = 16 * 1024;    // decoded request head bytes per stream
  // Response bytes kept per stream until the client acknowledges them (QUIC may
  // have to send them again): bounds memory per stream, and caps throughput at
  // this much per round trip, so large enough for a fast path's bandwidth-delay.
  size_t send_buffer = 4u << 20;
  // ... and on the whole connection: the memory one client can pin, however many
  // streams it opens and leaves unacknowledged.
  size_t connection_send_buffer = 16u << 20;
  std::chrono::milliseconds idle_timeout{30'000};
  size_t qpack_table = 4096;  // QPACK dynamic table the client's encoder may use
  size_t qpack_blocked_streams = 100;
  ngtcp2_cc_algo congestion_control = NGTCP2_CC_ALGO_BBR2;
  DatagramSizing datagrams;  // how large the datagrams sent on a path may be
  std::string server_name = "shoal";
};

// Where the server learns which connection IDs lead to which session: ngtcp2 issues
// new ones during a connection and retires old ones, and a client that changes
// address keeps using them.
class CidRegistry {
 public:
  virtual void add_cid(const ngtcp2_cid& cid, class Session* s) = 0;
  virtual void remove_cid(const ngtcp2_cid& cid) = 0;

 protected:
  ~CidRegistry() = default;
};

// What the server's endpoint knows when an Initial packet opens a connection.
struct Accepted {
  ngtcp2_pkt_hd hd;                   // the client's Initial
  const ngtcp2_cid* odcid = nullptr;  // after a Retry: the DCID of the first Initial
  ngtcp2_path path;                   // local and remote address
};

// One datagram-sized packet or a run of them, all for one path; with GSO the run
// goes out in one send, cut into `segment`-sized datagrams by the kernel.
// `path` is copied with the burst, so read its addrbufs, not its pointers.
struct Burst {
  uint8_t* data = nullptr;
  size_t size = 0;
  size_t segment = 0;
  ngtcp2_path_storage path{};
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> accept(const SessionOptions& opts, const TlsContext& tls,
                                                 const Accepted& a,
                                                 std::span<const uint8_t> reset_secret,
                                                 CidRegistry& cids, Clock::time_point now);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One datagram from the client. An error: the connection is over; write() then
  // produces its CONNECTION_CLOSE, if any is owed.
  Result<void> receive(const ngtcp2_path& path, std::span<const uint8_t> datagram,
                       Clock::time_point now);
  // Packets into `buf` (capacity `cap`) as one Burst of up to `max_packets`.
  // Size 0: nothing to send now. Call until it says so.
  Result<Burst> write(uint8_t* buf, size_t cap, size_t max_packets, Clock::time_point now);
  // When handle_expiry() is due (loss detection, ACK delay, idle timeout).
  Clock::time_point expiry() const;
  Result<void> handle_expiry(Clock::time_point now);
  // The close has been sent and its period is over, or the client went silent:
  // the session may be destroyed.
  bool finished() const { return finished_; }
  // Sends CONNECTION_CLOSE (shutdown at stop, idle) on the next write().
  void close(uint64_t h3_error);
  size_t max_udp_payload() const;

  std::vector<Stream*> take_ready();
  size_t zombies() const { return zombies_; }
  void notify_all();

  // The same calls as h2::Session, for StreamExchange through the connection.
  Result<void> respond(Stream& s, const std::vector<Field>& fields, uint64_t body_length);
  void provide(Stream& s, BodySource part, Clock::time_point now);
  void send_continue(Stream& s);
  void consume(Stream& s, size_t n);
  void abort(Stream& s);
  void release(Stream& s);
  void refuse(Stream& s);
  void drain();

 private:
  struct Callbacks;  // ngtcp2's and nghttp3's C callbacks (h3_session_callbacks.cc)
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    size_t size;
  };
  // A stream's response bytes from the handler's part until the client acks them.
  struct Entry {
    std::unique_ptr<Stream> stream;
    std::deque<Chunk> chunks;
    size_t acked_front = 0;  // bytes of chunks.front() acknowledged
    size_t handed = 0;       // chunks given to nghttp3
    uint64_t buffered = 0;   // bytes held, not yet acknowledged
    bool early = false;      // its request began in 0-RTT: it may be a replay
  };

  Session(const SessionOptions& opts, CidRegistry& cids, std::span<const uint8_t> reset_secret);
  Result<void> start(const TlsContext& tls, const Accepted& a, Clock::time_point now);
  Result<void> start_h3();
  Entry* find(int64_t id);
  Entry& open(int64_t id);
  void head_complete(Entry& e);
  void answer(Entry& e, unsigned status, std::string_view code, std::string_view message);
  void discard(int64_t id);
  void grant_stream_credit();
  void closed(int64_t id, uint64_t code);
  void reset(Stream& s, uint64_t h3_error);
  bool fill(Entry& e);
  long read_body(Entry& e, void* vec, size_t veccnt, uint32_t* flags);
  void acked(Entry& e, uint64_t n);
  void drop_chunks(Entry& e);
  void refill_waiting();
  Result<void> fail(int liberr, const std::string& what);
  Result<Burst> write_close(uint8_t* buf, size_t cap, Clock::time_point now);
  Result<size_t> write_packet(uint8_t* dest, size_t cap, ngtcp2_path_storage& ps,
                              Clock::time_point now);
  static ngtcp2_tstamp ts(Clock::time_point t) { return timestamp(t); }

  SessionOptions opts_;
  CidRegistry& cids_;
  std::vector<uint8_t> reset_secret_;
  ngtcp2_crypto_conn_ref ref_{};
  ngtcp2_conn* conn_ = nullptr;
  nghttp3_conn* h3_ = nullptr;
  gnutls_session_t tls_ = nullptr;
  std::unordered_map<int64_t, std::unique_ptr<Entry>> streams_;
  std::vector<int64_t> ready_;
  size_t zombies_ = 0;
  ngtcp2_connection_close_error close_err_{};
  bool closing_ = false;  // a CONNECTION_CLOSE is owed or sent
  bool close_sent_ = false;
  bool finished_ = false;
  bool drained_ = false;
  bool reading_early_ = false;  // the stream data being read came in 0-RTT
  uint64_t buffered_total_ = 0;  // response bytes held on all streams
  size_t credit_owed_ = 0;       // finished request streams not yet given back
  bool connection_full_ = false;  // a part waits for connection_send_buffer room
  Clock::time_point close_deadline_{};
  Clock::time_point now_{};
  // A packet ngtcp2 wrote that cannot join the burst (larger, or for another path):
  // sent first next time.
  std::vector<uint8_t> held_;
  ngtcp2_path_storage held_path_{};
};

}  // namespace shoal::http::h3
