// One request stream (HTTP/2 or HTTP/3) as the protocol session and its handler
// share it: the request as it arrives, request body bytes not yet read, and the
// response body bytes the handler lends until they are framed. Plain state: a
// protocol session (HTTP/2 or HTTP/3) changes it, StreamExchange waits on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "http/mux/headers.h"

namespace shoal::http::mux {

using Clock = std::chrono::steady_clock;

class StreamObserver {
 public:
  // Body bytes arrived, the request body ended, a lent body part was framed, or the
  // stream closed.
  virtual void stream_changed() = 0;

 protected:
  ~StreamObserver() = default;
};

// Response body bytes lent by the handler until they are framed: `memory`, or
// when that is null, `fd` from `offset`.
struct BodySource {
  const char* memory = nullptr;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t remaining = 0;
};

struct Stream {
  Stream(int64_t stream_id, uint32_t max_header_bytes) : id(stream_id), request(max_header_bytes) {}

  // Request body bytes received and not yet read; their flow-control credit goes
  // back to the client only as the handler reads, so a slow handler slows the client.
  void append_body(const uint8_t* data, size_t n);
  size_t take_body(std::span<char> out);
  size_t buffered() const { return inbox.size() - inbox_pos; }
  void notify() {
    if (observer != nullptr) observer->stream_changed();
  }

  const int64_t id;  // HTTP/2 ids fit 31 bits, QUIC stream ids need 62
  RequestBuilder request;
  std::optional<Request> head;  // set when the request head is complete and valid
  bool peer_done = false;       // END_STREAM received: the request body is complete
  bool bodyless = false;        // END_STREAM came with the request head: no body at all
  bool closed = false;          // nghttp2 closed the stream
  uint32_t close_code = 0;      // its error code (0: closed normally)
  bool attached = false;        // a handler owns it
  bool released = false;        // its handler is done, or it never gets one
  StreamObserver* observer = nullptr;

  std::string inbox;
  size_t inbox_pos = 0;

  bool responded = false;       // response head submitted
  bool response_done = false;   // END_STREAM sent
  bool aborted = false;         // body given up: no more bytes may be framed
  bool deferred = false;        // the data provider waits for the next part
  uint64_t declared = 0;        // body bytes the response head promised
  uint64_t sent = 0;            // body bytes framed so far
  BodySource part;
  std::string owned_body;       // body of an answer the session gives itself (400, 431)
  Clock::time_point last_progress{};
};

}  // namespace shoal::http::mux
