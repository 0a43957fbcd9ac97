#include "http/h2/session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>

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
  ssize_t rv = nghttp2_session_mem_recv(ng_, bytes.data(), bytes.size());
  if (rv < 0) return ng_error(rv, "HTTP/2 session failed");
  if (calm_) return Error(Errc::protocol_error, "client over the rate of stream resets or control frames");
  return {};
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

void Session::shutdown(uint32_t error_code) { nghttp2_session_terminate_session(ng_, error_code); }

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
  if (!respond(s, mux::response_fields(head, opts_.server_name, s.owned_body.size()), s.owned_body.size())) return;
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
  nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
}

void Session::count_control() {
  if (calm_ || control_.try_take(1, now_)) return;
  calm_ = true;
  nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
}

}  // namespace shoal::http::h2
