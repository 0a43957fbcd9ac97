// The HTTP/2 protocol of one server connection, over nghttp2 and without I/O: fed
// the bytes the client sent and the time, it produces the bytes to send and hands out
// a Stream per request. The caller moves the bytes (H2Connection over TLS, the unit
// tests in memory) and makes every call from one thread or strand.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "http/h2/flood.h"
#include "http/mux/headers.h"
#include "http/mux/stream.h"

struct nghttp2_session;

namespace shoal::http::h2 {

using mux::BodySource;
using mux::Field;
using mux::Stream;

struct SessionOptions {
  uint32_t max_concurrent_streams = 100;
  uint32_t stream_window = 1u << 20;       // request body bytes buffered per stream
  uint32_t connection_window = 16u << 20;  // ... and on the whole connection
  uint32_t max_header_list = 16 * 1024;    // decoded request head bytes per stream
  FloodLimits flood;
  std::string server_name = "shoal";
};

// Frames on their way to the socket. A fixed capacity, so a batch never reallocates,
// and room handed out uninitialised, so file bytes are read straight into it.
class WriteBuffer {
 public:
  explicit WriteBuffer(size_t capacity)
      : data_(std::make_unique_for_overwrite<uint8_t[]>(capacity)), capacity_(capacity) {}
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t space() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // `n` more bytes at the end, for the caller to fill; n <= space().
  uint8_t* grow(size_t n) {
    uint8_t* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void shrink_to(size_t n) { size_ = n; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_;
};

class Session {
 public:
  // Queues the server's SETTINGS and connection window, sent by the first send().
  static Result<std::unique_ptr<Session>> create(SessionOptions opts);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Processes bytes from the client. An error means the connection must close once
  // send() has produced what is still queued (a GOAWAY, when there is one).
  Result<void> receive(std::span<const uint8_t> bytes, Clock::time_point now);
  // Frames queued output into `out` until it holds at least `batch` bytes or nothing
  // is left. `out` needs room for a batch plus one DATA frame (kFrameRoom).
  Result<void> send(WriteBuffer& out, size_t batch, Clock::time_point now);
  static constexpr size_t kFrameRoom = 16 * 1024 + 512;
  // Neither: the session is over (GOAWAY exchanged and no stream open).
  bool want_read() const;
  bool want_write() const;

  // Streams whose request head completed since the last call, now attached: the
  // caller runs one handler for each and calls release() when it is done.
  std::vector<Stream*> take_ready();
  // Attached streams that closed while their handler still runs.
  size_t zombies() const { return zombies_; }
  // Wakes the observer of every attached stream (the connection is lost).
  void notify_all();

  // Submits the response head; a body of `body_length` bytes (0: none) follows in
  // parts through provide(). HEADERS alone carry END_STREAM when there is no body.
  Result<void> respond(Stream& s, const std::vector<Field>& fields, uint64_t body_length);
  // Lends the next body part until it is framed (s.part.remaining drops to 0).
  void provide(Stream& s, BodySource part, Clock::time_point now);
  void send_continue(Stream& s);
  // The handler read n body bytes: the client may send n more.
  void consume(Stream& s, size_t n);
  // Gives up the response body: RST_STREAM INTERNAL_ERROR, lent bytes dropped, so a
  // client sees a failed stream rather than a short body it could take as complete.
  void abort(Stream& s);
  void release(Stream& s);
  // Instead of a handler: RST_STREAM REFUSED_STREAM (the client may retry) and release.
  void refuse(Stream& s);

  // GOAWAY now and close once it is sent (idle timeout, floods).
  void shutdown(uint32_t error_code);
  // GOAWAY that lets open streams finish (Exchange::close_connection).
  void drain();
  bool open_streams() const { return !streams_.empty(); }

 private:
  struct Callbacks;  // nghttp2's C callbacks (h2_session_callbacks.cc)
  // How a client stream ended, remembered for RFC 9113 §5.1's closed state: nghttp2
  // keeps no closed streams (no_closed_streams) and ignores every frame on one.
  enum class Closed : uint8_t { ended, client_reset, server_reset };
  enum class Verdict : uint8_t { pass, stream_closed, connection_closed, protocol_error };
  static Error ng_error(long rv, const std::string& what);
  explicit Session(SessionOptions opts);
  Result<void> start();
  Stream* find(int32_t id);
  void head_complete(Stream& s);
  void answer(Stream& s, unsigned status, std::string_view code, std::string_view message);
  void discard(Stream& s);
  void finish_if_done(Stream& s);
  void count_reset();
  void count_control();
  Result<void> feed(std::span<const uint8_t> bytes);
  Verdict judge(uint8_t type, int32_t id);
  Result<void> enforce(Verdict v, int32_t id);
  void remember(int32_t id, Closed how);
  const Closed* recall(int32_t id) const;

  nghttp2_session* ng_ = nullptr;
  SessionOptions opts_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<int32_t> ready_;
  size_t zombies_ = 0;
  TokenBucket resets_;
  TokenBucket control_;
  bool calm_ = false;  // a flood was detected: GOAWAY ENHANCE_YOUR_CALM queued
  bool drained_ = false;
  bool ending_ = false;  // a GOAWAY that ends the session is queued
  // The client's frame boundaries, tracked ahead of nghttp2 so that each frame's
  // stream state is judged before nghttp2 sees it: bytes to pass on untouched (the
  // client magic, then each payload) and a frame header being assembled.
  size_t passthrough_ = 24;  // NGHTTP2_CLIENT_MAGIC_LEN
  uint8_t frame_head_[9] = {};
  size_t frame_head_len_ = 0;
  int32_t highest_stream_ = 0;  // the largest stream id the client opened (§5.1.1)
  // How recent client streams closed, in a ring by stream id (a few KiB, no
  // allocation per stream): 4 x max_concurrent_streams slots, 256 to 4096, well past
  // what can still be in flight after our RST_STREAM. Older ones count as never opened.
  struct ClosedStream {
    int32_t id = 0;
    Closed how = Closed::ended;
  };
  std::vector<ClosedStream> closed_;
  Clock::time_point now_{};
  WriteBuffer* out_ = nullptr;
  size_t batch_ = 0;
};

}  // namespace shoal::http::h2
