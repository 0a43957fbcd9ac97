#include "http/h2/session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>

#include "http/util.h"

namespace shoal::http::h2 {

Error Session::ng_error(long rv, const std::string& what) {
  return Error(Errc::protocol_error, what + ": " + nghttp2_strerror(static_cast<int>(rv)));
}

Session::Session(SessionOptions opts)
    : opts_(std::move(opts)),
      resets_(opts_.flood.resets()),
      control_(opts_.flood.control()) {}

Session::~Session() { nghttp2_session_del(ng_); }

Result<std::unique_ptr<Session>> Session::create(SessionOptions opts) {
  std::unique_ptr<Session> s(new Session(std::move(opts)));
  if (auto ok = s->start(); !ok) return ok.error();
  return s;
}

Result<void> Session::receive(std::span<const uint8_t> bytes, Clock::time_point now) {
  now_ = now;
  while (!bytes.empty()) {
    if (passthrough_ > 0) {
      size_t n = std::min(passthrough_, bytes.size());
      passthrough_ -= n;
      if (auto ok = feed(bytes.first(n)); !ok) return ok;
      bytes = bytes.subspan(n);
      continue;
    }
    size_t n = std::min(sizeof frame_head_ - frame_head_len_, bytes.size());
    std::memcpy(frame_head_ + frame_head_len_, bytes.data(), n);
    frame_head_len_ += n;
    bytes = bytes.subspan(n);
    if (frame_head_len_ < sizeof frame_head_) break;
    frame_head_len_ = 0;
    const uint8_t* h = frame_head_;
    passthrough_ = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
    int32_t id = static_cast<int32_t>(((uint32_t{h[5]} << 24) | (uint32_t{h[6]} << 16) |
                                       (uint32_t{h[7]} << 8) | h[8]) & 0x7fffffffu);
    if (auto ok = enforce(judge(h[3], id), id); !ok) return ok;
    if (auto ok = feed(std::span<const uint8_t>(frame_head_)); !ok) return ok;
  }
  if (calm_)
    return Error(Errc::protocol_error, "client over the rate of stream resets or control frames");
  return {};
}

Result<void> Session::feed(std::span<const uint8_t> bytes) {
  ssize_t rv = nghttp2_session_mem_recv(ng_, bytes.data(), bytes.size());
  if (rv < 0) return ng_error(rv, "HTTP/2 session failed");
  return {};
}

// RFC 9113 §5.1 and §5.1.1 for a client stream nghttp2 no longer holds (it keeps
// no closed stream, and ignores HEADERS and DATA on one, to be safe from frames
// that crossed its own RST_STREAM). Open and half-closed streams, idle ones and
// even (server) ids stay nghttp2's: it already answers those as the RFC says.
Session::Verdict Session::judge(uint8_t type, int32_t id) {
  bool watched = type == NGHTTP2_HEADERS || type == NGHTTP2_DATA || type == NGHTTP2_WINDOW_UPDATE;
  if (!watched || id <= 0 || id % 2 == 0 || ending_) return Verdict::pass;
  if (id > highest_stream_) {
    if (type == NGHTTP2_HEADERS) highest_stream_ = id;
    return Verdict::pass;
  }
  // Streams past our GOAWAY's last id are dropped unanswered (RFC 9113 §6.8).
  if (drained_ && id > nghttp2_session_get_last_proc_stream_id(ng_)) return Verdict::pass;
  if (nghttp2_session_find_stream(ng_, id) != nullptr) return Verdict::pass;
  const Closed* how = recall(id);
  if (how == nullptr) {
    // Never opened, so closed when a higher id was (§5.1.1: new ids only grow), or
    // closed longer ago than we remember.
    if (type == NGHTTP2_HEADERS) return Verdict::protocol_error;
    return type == NGHTTP2_DATA ? Verdict::stream_closed : Verdict::pass;
  }
  switch (*how) {
    case Closed::server_reset:
      return Verdict::pass;  // may have been sent before our RST_STREAM arrived: ignored
    case Closed::client_reset:
      return Verdict::stream_closed;
    case Closed::ended:
      return type == NGHTTP2_WINDOW_UPDATE ? Verdict::pass : Verdict::connection_closed;
  }
  return Verdict::pass;
}

Result<void> Session::enforce(Verdict v, int32_t id) {
  if (v == Verdict::pass) return {};
  if (v == Verdict::stream_closed) {  // the frame itself goes on to nghttp2, which drops it
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_STREAM_CLOSED);
    return {};
  }
  ending_ = true;
  const char* type = frame_head_[3] == NGHTTP2_HEADERS ? "HEADERS" : "DATA";
  std::string where = std::string(type) + " on stream " + std::to_string(id);
  if (v == Verdict::connection_closed) {
    nghttp2_session_terminate_session(ng_, NGHTTP2_STREAM_CLOSED);
    return Error(Errc::protocol_error, where + " after both sides ended it (RFC 9113 §5.1)");
  }
  nghttp2_session_terminate_session(ng_, NGHTTP2_PROTOCOL_ERROR);
  return Error(Errc::protocol_error, where + ", not above stream " +
                                         std::to_string(highest_stream_) +
                                         " the client opened before (RFC 9113 §5.1.1)");
}

// Keeps how a client stream closed. The first cause stands (a client's RST_STREAM
// crossing ours changes nothing), and a newer stream keeps its slot.
void Session::remember(int32_t id, Closed how) {
  if (id <= 0 || id % 2 == 0) return;
  if (closed_.empty()) {
    closed_.resize(std::clamp<size_t>(4 * size_t{opts_.max_concurrent_streams}, 256, 4096));
  }
  ClosedStream& slot = closed_[(static_cast<uint32_t>(id) >> 1) % closed_.size()];
  if (slot.id < id) slot = {id, how};
}

const Session::Closed* Session::recall(int32_t id) const {
  if (closed_.empty()) return nullptr;
  const ClosedStream& slot = closed_[(static_cast<uint32_t>(id) >> 1) % closed_.size()];
  return slot.id == id ? &slot.how : nullptr;
}

Result<void> Session::send(WriteBuffer& out, size_t batch, Clock::time_point now) {
  out_ = &out;
  batch_ = batch;
  now_ = now;
  int rv = nghttp2_session_send(ng_);
  out_ = nullptr;
  if (rv != 0) return ng_error(rv, "HTTP/2 session failed");
  return {};
}

bool Session::want_read() const { return nghttp2_session_want_read(ng_) != 0; }
bool Session::want_write() const { return nghttp2_session_want_write(ng_) != 0; }

std::vector<Stream*> Session::take_ready() {
  std::vector<Stream*> out;
  for (int32_t id : ready_) {
    if (Stream* st = find(id)) {
      st->attached = true;
      out.push_back(st);
    }
  }
  ready_.clear();
  return out;
}

void Session::notify_all() {
  for (auto& [id, st] : streams_) st->notify();
}

void Session::provide(Stream& s, BodySource part, Clock::time_point now) {
  part.remaining = std::min(part.remaining, s.declared - s.sent);
  s.part = part;
  s.last_progress = now;
  if (s.deferred) {
    s.deferred = false;
    nghttp2_session_resume_data(ng_, s.id);
  }
}

void Session::send_continue(Stream& s) {
  static uint8_t name[] = ":status", value[] = "100";
  nghttp2_nv nv{name, value, sizeof name - 1, sizeof value - 1, NGHTTP2_NV_FLAG_NONE};
  nghttp2_submit_headers(ng_, NGHTTP2_FLAG_NONE, s.id, nullptr, &nv, 1, nullptr);
}

void Session::consume(Stream& s, size_t n) {
  if (n > 0) nghttp2_session_consume(ng_, s.id, n);
}

void Session::abort(Stream& s) {
  s.aborted = true;
  s.part = {};
  if (!s.closed) nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
}

void Session::release(Stream& s) {
  s.observer = nullptr;
  s.attached = false;
  s.released = true;
  if (s.closed) {
    --zombies_;
    discard(s);
    return;
  }
  consume(s, s.buffered());
  s.inbox.clear();
  s.inbox_pos = 0;
  if (!s.responded || s.sent < s.declared) abort(s);
  finish_if_done(s);
}

void Session::refuse(Stream& s) {
  s.responded = true;  // the reset is the answer
  if (!s.closed) nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_REFUSED_STREAM);
  release(s);
}

void Session::shutdown(uint32_t error_code) {
  ending_ = true;
  nghttp2_session_terminate_session(ng_, error_code);
}

void Session::drain() {
  if (drained_) return;
  drained_ = true;
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
}

Stream* Session::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Session::head_complete(Stream& s) {
  if (s.request.over_limit()) {
    return answer(s, 431, "HEADERS_TOO_LARGE", "request head is over max_header_size");
  }
  auto request = s.request.finish();
  if (!request) return answer(s, 400, "BAD_REQUEST", request.error().message);
  s.head = std::move(*request);
  ready_.push_back(s.id);
}

void Session::answer(Stream& s, unsigned status, std::string_view code, std::string_view message) {
  Head head;
  head.result(status);
  head.set(bhttp::field::content_type, "application/json");
  s.owned_body = error_json(code, message);
  s.released = true;  // no handler: its body is discarded as it arrives
  if (!respond(s, mux::response_fields(head, opts_.server_name, s.owned_body.size()),
               s.owned_body.size()))
    return;
  provide(s, BodySource{s.owned_body.data(), -1, 0, s.owned_body.size()}, now_);
}

// Frees a stream nobody holds; its unread body goes back to the connection window.
void Session::discard(Stream& s) {
  int32_t id = s.id;  // erase() must not read the key from the node it destroys
  if (s.buffered() > 0) nghttp2_session_consume(ng_, id, s.buffered());
  streams_.erase(id);
}

// After a complete response, the rest of an unread request body is not wanted
// (RFC 9113 §8.1: RST_STREAM NO_ERROR).
void Session::finish_if_done(Stream& s) {
  if (!s.response_done || s.attached || s.peer_done || s.closed) return;
  nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_NO_ERROR);
}

void Session::count_reset() {
  if (calm_ || resets_.try_take(1, now_)) return;
  calm_ = true;
  ending_ = true;
  nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
}

void Session::count_control() {
  if (calm_ || control_.try_take(1, now_)) return;
  calm_ = true;
  ending_ = true;
  nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
}

}  // namespace shoal::http::h2
