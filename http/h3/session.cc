#include "http/h3/session.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "http/util.h"

namespace shoal::http::h3 {
namespace {

// Response bytes are copied out of the handler's part in pieces of this size: large
// enough that a chunk fills many packets, small enough that acked ones free memory soon.
constexpr size_t kChunk = 64 * 1024;
}  // namespace

Session::Session(const SessionOptions& opts, CidRegistry& cids,
                 std::span<const uint8_t> reset_secret)
    : opts_(opts), cids_(cids), reset_secret_(reset_secret.begin(), reset_secret.end()) {}

Session::~Session() {
  if (conn_ != nullptr) {
    std::vector<ngtcp2_cid> scids(ngtcp2_conn_get_num_scid(conn_));
    ngtcp2_conn_get_scid(conn_, scids.data());
    for (const auto& cid : scids) cids_.remove_cid(cid);
  }
  nghttp3_conn_del(h3_);
  ngtcp2_conn_del(conn_);
  if (tls_ != nullptr) gnutls_deinit(tls_);
}

Result<std::unique_ptr<Session>> Session::accept(const SessionOptions& opts, const TlsContext& tls,
                                                 const Accepted& a,
                                                 std::span<const uint8_t> reset_secret,
                                                 CidRegistry& cids, Clock::time_point now) {
  std::unique_ptr<Session> s(new Session(opts, cids, reset_secret));
  if (auto ok = s->start(tls, a, now); !ok) return ok.error();
  return s;
}

void Session::provide(Stream& s, BodySource part, Clock::time_point now) {
  part.remaining = std::min(part.remaining, s.declared - s.sent);
  s.part = part;
  s.last_progress = now;
  if (Entry* e = find(s.id)) fill(*e);
  if (s.deferred && h3_ != nullptr) {
    s.deferred = false;
    nghttp3_conn_resume_stream(h3_, s.id);
  }
}

void Session::send_continue(Stream& s) {
  static uint8_t name[] = ":status", value[] = "100";
  nghttp3_nv nv{name, value, sizeof name - 1, sizeof value - 1, NGHTTP3_NV_FLAG_NONE};
  if (h3_ != nullptr) nghttp3_conn_submit_info(h3_, s.id, &nv, 1);
}

void Session::consume(Stream& s, size_t n) {
  if (n == 0 || conn_ == nullptr) return;
  ngtcp2_conn_extend_max_stream_offset(conn_, s.id, n);
  ngtcp2_conn_extend_max_offset(conn_, n);
}

void Session::reset(Stream& s, uint64_t h3_error) {
  if (!s.closed) ngtcp2_conn_shutdown_stream(conn_, s.id, h3_error);
}

void Session::abort(Stream& s) {
  s.aborted = true;
  s.part = {};
  reset(s, NGHTTP3_H3_INTERNAL_ERROR);
}

void Session::release(Stream& s) {
  s.observer = nullptr;
  s.attached = false;
  s.released = true;
  if (s.closed) {
    --zombies_;
    discard(s.id);
    return;
  }
  consume(s, s.buffered());
  s.inbox.clear();
  s.inbox_pos = 0;
  if (!s.responded || s.sent < s.declared) {
    abort(s);
    return;
  }
  // A complete answer: the rest of the request body is not wanted (RFC 9114 §4.1.2).
  if (s.response_done && !s.peer_done)
    ngtcp2_conn_shutdown_stream_read(conn_, s.id, NGHTTP3_H3_NO_ERROR);
}

void Session::refuse(Stream& s) {
  s.responded = true;  // the reset is the answer
  reset(s, NGHTTP3_H3_REQUEST_REJECTED);
  release(s);
}

void Session::drain() {
  if (drained_ || h3_ == nullptr) return;
  drained_ = true;
  nghttp3_conn_submit_shutdown_notice(h3_);
}

void Session::close(uint64_t h3_error) {
  if (closing_) return;
  ngtcp2_connection_close_error_set_application_error(&close_err_, h3_error, nullptr, 0);
  closing_ = true;
}

size_t Session::max_udp_payload() const { return ngtcp2_conn_get_max_tx_udp_payload_size(conn_); }

std::vector<Stream*> Session::take_ready() {
  std::vector<Stream*> out;
  for (int64_t id : ready_) {
    if (Entry* e = find(id); e != nullptr && !e->stream->closed) {
      e->stream->attached = true;
      out.push_back(e->stream.get());
    }
  }
  ready_.clear();
  return out;
}

void Session::notify_all() {
  for (auto& [id, e] : streams_) e->stream->notify();
}

Session::Entry* Session::find(int64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Session::Entry& Session::open(int64_t id) {
  auto& slot = streams_[id];
  if (!slot) {
    slot = std::make_unique<Entry>();
    slot->stream = std::make_unique<Stream>(id, opts_.max_header_list);
  }
  return *slot;
}

void Session::head_complete(Entry& e) {
  Stream& s = *e.stream;
  if (s.request.over_limit()) {
    return answer(e, 431, "HEADERS_TOO_LARGE", "request head is over max_header_size");
  }
  auto request = s.request.finish();
  if (!request) return answer(e, 400, "BAD_REQUEST", request.error().message);
  // 0-RTT data can be replayed by an attacker: only requests that are safe to repeat
  // are served from it (RFC 8470); the client sends others again after the handshake.
  auto method = request->head.method();
  if (e.early && method != bhttp::verb::get && method != bhttp::verb::head &&
      method != bhttp::verb::options) {
    return answer(e, 425, "TOO_EARLY", "request sent in 0-RTT: send it again after the handshake");
  }
  s.head = std::move(*request);
  ready_.push_back(s.id);
}

void Session::answer(Entry& e, unsigned status, std::string_view code, std::string_view message) {
  Stream& s = *e.stream;
  Head head;
  head.result(status);
  head.set(bhttp::field::content_type, "application/json");
  s.owned_body = error_json(code, message);
  s.released = true;  // no handler: its body is discarded as it arrives
  if (!respond(s, mux::response_fields(head, opts_.server_name, s.owned_body.size()),
               s.owned_body.size())) {
    return;
  }
  provide(s, BodySource{s.owned_body.data(), -1, 0, s.owned_body.size()}, now_);
}

// Frees a stream nobody holds: its unread body goes back to the connection window
// and the client may open another stream in its place. Only now, not when QUIC
// closes it: a handler still running counts against the limit, so resetting streams
// cannot start handlers without end.
void Session::discard(int64_t id) {
  Entry* e = find(id);
  if (e == nullptr) return;
  if (size_t left = e->stream->buffered(); left > 0) ngtcp2_conn_extend_max_offset(conn_, left);
  bool request_stream = (id & 0x3) == 0;  // client-initiated bidirectional
  streams_.erase(id);
  if (!request_stream) return;
  // ngtcp2 0.12 sends MAX_STREAMS at once for every raise, a packet per request (and
  // an ACK back). The credit waits for the next response instead, where it shares a
  // packet, unless half the limit is owed: a client always has credit or streams open.
  ++credit_owed_;
  if (credit_owed_ * 2 >= opts_.max_streams) grant_stream_credit();
}

void Session::grant_stream_credit() {
  if (credit_owed_ == 0) return;
  ngtcp2_conn_extend_max_streams_bidi(conn_, credit_owed_);
  credit_owed_ = 0;
}

void Session::closed(int64_t id, uint64_t code) {
  Entry* e = find(id);
  if (e == nullptr) return;
  Stream& s = *e->stream;
  s.closed = true;
  s.close_code = static_cast<uint32_t>(code);
  drop_chunks(*e);
  if (!s.attached) {
    discard(id);
    return;
  }
  ++zombies_;
  s.notify();
}

// Copies what the handler lent into chunks, up to the stream's send buffer, so the
// handler's memory or file may go once its part is taken. True if anything was added.
bool Session::fill(Entry& e) {
  Stream& s = *e.stream;
  bool added = false;
  while (s.part.remaining > 0 && e.buffered < opts_.send_buffer && !s.aborted) {
    if (buffered_total_ >= opts_.connection_send_buffer) {
      connection_full_ = true;
      break;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(s.part.remaining, kChunk));
    auto data = std::make_unique_for_overwrite<uint8_t[]>(n);
    if (s.part.memory != nullptr) {
      std::memcpy(data.get(), s.part.memory, n);
      s.part.memory += n;
    } else {
      ssize_t got = ::pread(s.part.fd, data.get(), n, static_cast<off_t>(s.part.offset));
      if (got <= 0) {  // the file shrank or failed under us: the body cannot be completed
        abort(s);
        s.notify();
        return added;
      }
      n = static_cast<size_t>(got);
      s.part.offset += n;
    }
    s.part.remaining -= n;
    s.sent += n;
    e.buffered += n;
    buffered_total_ += n;
    e.chunks.push_back(Chunk{std::move(data), n});
    added = true;
  }
  if (added) {
    s.last_progress = now_;
    if (s.part.remaining == 0) s.notify();
  }
  return added;
}

long Session::read_body(Entry& e, void* vecp, size_t veccnt, uint32_t* flags) {
  Stream& s = *e.stream;
  auto* vec = static_cast<nghttp3_vec*>(vecp);
  fill(e);
  size_t n = 0;
  while (n < veccnt && e.handed < e.chunks.size()) {
    Chunk& c = e.chunks[e.handed++];
    vec[n++] = nghttp3_vec{c.data.get(), c.size};
  }
  bool all_handed = e.handed == e.chunks.size();
  if (s.sent == s.declared && all_handed) {
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    s.response_done = true;
    return static_cast<long>(n);
  }
  if (n == 0) {
    s.deferred = true;
    return NGHTTP3_ERR_WOULDBLOCK;
  }
  return static_cast<long>(n);
}

void Session::drop_chunks(Entry& e) {
  buffered_total_ -= std::min(e.buffered, buffered_total_);
  e.chunks.clear();
  e.buffered = 0;
  e.handed = 0;
  e.acked_front = 0;
  refill_waiting();
}

// Streams that stopped on the connection's budget get room again, in turn.
void Session::refill_waiting() {
  if (!connection_full_ || buffered_total_ >= opts_.connection_send_buffer) return;
  connection_full_ = false;
  for (auto& [id, entry] : streams_) {
    Stream& st = *entry->stream;
    if (st.part.remaining == 0 || st.closed) continue;
    if (fill(*entry) && st.deferred) {
      st.deferred = false;
      nghttp3_conn_resume_stream(h3_, st.id);
    }
    if (connection_full_) break;
  }
}

void Session::acked(Entry& e, uint64_t n) {
  Stream& s = *e.stream;
  uint64_t freed = std::min(n, e.buffered);
  e.buffered -= freed;
  buffered_total_ -= std::min(freed, buffered_total_);
  while (n > 0 && !e.chunks.empty()) {
    size_t left = e.chunks.front().size - e.acked_front;
    if (n < left) {
      e.acked_front += n;
      break;
    }
    n -= left;
    e.acked_front = 0;
    e.chunks.pop_front();
    if (e.handed > 0) --e.handed;
  }
  s.last_progress = now_;
  // Room again for a part that was waiting on the client's acknowledgements.
  if (s.part.remaining > 0 && fill(e) && s.deferred) {
    s.deferred = false;
    nghttp3_conn_resume_stream(h3_, s.id);
  }
  refill_waiting();
}

Clock::time_point Session::expiry() const {
  if (closing_) return close_sent_ ? close_deadline_ : Clock::time_point::min();
  ngtcp2_tstamp t = ngtcp2_conn_get_expiry(conn_);
  if (t == UINT64_MAX) return Clock::time_point::max();
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(t)));
}

Result<void> Session::handle_expiry(Clock::time_point now) {
  now_ = now;
  if (closing_) {
    if (close_sent_ && now >= close_deadline_) finished_ = true;
    return {};
  }
  int rv = ngtcp2_conn_handle_expiry(conn_, ts(now));
  if (rv == NGTCP2_ERR_IDLE_CLOSE) {
    finished_ = true;  // silent close: the client has gone
    return Error(Errc::timed_out, "idle timeout");
  }
  if (rv != 0) return fail(rv, "QUIC timer");
  return {};
}

Result<void> Session::fail(int liberr, const std::string& what) {
  if (!closing_) {
    if (close_err_.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
        close_err_.error_code == 0) {
      ngtcp2_connection_close_error_set_transport_error_liberr(&close_err_, liberr, nullptr, 0);
    }
    closing_ = true;
  }
  return Error(Errc::protocol_error, what + ": " + ngtcp2_strerror(liberr));
}

Result<void> Session::receive(const ngtcp2_path& path, std::span<const uint8_t> datagram,
                              Clock::time_point now) {
  now_ = now;
  if (closing_) return {};  // closing or draining: incoming packets change nothing
  ngtcp2_pkt_info pi{};
  int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, datagram.data(), datagram.size(), ts(now));
  if (rv == 0) return {};
  switch (rv) {
    case NGTCP2_ERR_DRAINING:  // the client closed: stay quiet for three PTOs, then go
      closing_ = close_sent_ = true;
      close_deadline_ = now + std::chrono::nanoseconds(3 * ngtcp2_conn_get_pto(conn_));
      return Error(Errc::cancelled, "client closed the connection");
    case NGTCP2_ERR_DROP_CONN:
      finished_ = true;
      return Error(Errc::protocol_error, "connection dropped");
    case NGTCP2_ERR_CRYPTO:
      if (!closing_) {
        ngtcp2_connection_close_error_set_transport_error_tls_alert(
            &close_err_, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
        closing_ = true;
      }
      return Error(Errc::protocol_error, "TLS handshake failed");
    default: return fail(rv, "QUIC packet");
  }
}

Result<Burst> Session::write_close(uint8_t* buf, size_t cap, Clock::time_point now) {
  Burst b;
  b.data = buf;
  if (close_sent_ || conn_ == nullptr) return b;
  close_sent_ = true;
  close_deadline_ = now + std::chrono::nanoseconds(3 * ngtcp2_conn_get_pto(conn_));
  if (ngtcp2_conn_is_in_closing_period(conn_) || ngtcp2_conn_is_in_draining_period(conn_)) return b;
  ngtcp2_path_storage_zero(&b.path);
  ngtcp2_pkt_info pi{};
  auto n = ngtcp2_conn_write_connection_close(
      conn_, &b.path.path, &pi, buf, std::min(cap, max_udp_payload()), &close_err_, ts(now));
  if (n > 0) b.size = b.segment = static_cast<size_t>(n);
  return b;
}

}  // namespace shoal::http::h3
