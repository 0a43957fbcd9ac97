// nghttp2's side of the session: its C callbacks, and the calls that hand them to it
// (session setup, response data providers).
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/file_io.h"
#include "http/h2/session.h"

namespace shoal::http::h2 {
namespace {

// Acknowledgements (SETTINGS, PING) queued for a client that sends but does not read;
// past this nghttp2 gives up on the session, without a GOAWAY. Well above our own
// control-frame budget (FloodLimits: 50/s, 2 s of burst), so that a flood meets that
// limit first and is told ENHANCE_YOUR_CALM; this one is only the backstop (at 100 the
// two raced, and a flooding client sometimes saw the connection drop unexplained).
constexpr size_t kMaxOutboundAck = 1000;
constexpr size_t kMaxSettingsEntries = 32;
// CONTINUATION frames after one HEADERS: a slow stream of them pins the decoder.
constexpr size_t kMaxContinuations = 8;
// Our HPACK encoder's table, whatever larger size the client offers.
constexpr size_t kDeflateTable = 4096;
// A request head this many times over the limit is reset instead of answered 431:
// past that it is a header bomb, not a large cookie.
constexpr uint64_t kBombFactor = 2;

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

uint8_t* bytes(const std::string& s) {
  return const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(s.data()));
}

std::vector<nghttp2_nv> to_nv(const std::vector<Field>& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const auto& f : fields) {
    nv.push_back(
        {bytes(f.name), bytes(f.value), f.name.size(), f.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

// Copies the next n lent bytes to dst. False when the file ended early or failed.
bool copy_part(BodySource& part, uint8_t* dst, size_t n) {
  if (part.memory != nullptr) {
    std::memcpy(dst, part.memory, n);
    part.memory += n;
    part.remaining -= n;
    return true;
  }
  for (size_t done = 0; done < n;) {
    auto got = pread_some(part.fd, dst + done, n - done, part.offset);
    if (!got || *got == 0) return false;
    done += *got;
    part.offset += *got;
    part.remaining -= *got;
  }
  return true;
}

int32_t clamp_window(uint32_t w) { return static_cast<int32_t>(std::min<uint32_t>(w, INT32_MAX)); }

}  // namespace

// nghttp2's C callbacks, with access to the session they serve (user_data).
struct Session::Callbacks {
  static Session& self(void* user_data) { return *static_cast<Session*>(user_data); }

  static ssize_t send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user_data) {
    Session& s = self(user_data);
    WriteBuffer& out = *s.out_;
    if (out.size() >= s.batch_ || out.space() == 0) return NGHTTP2_ERR_WOULDBLOCK;
    size_t n = std::min(length, out.space());
    std::memcpy(out.grow(n), data, n);
    return static_cast<ssize_t>(n);
  }

  // DATA frames are built here rather than copied by nghttp2: the frame header, then
  // the body read straight from the lent memory or file into the write buffer.
  static int send_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                       size_t length, nghttp2_data_source* source, void* user_data) {
    Session& s = self(user_data);
    Stream& st = *static_cast<Stream*>(source->ptr);
    WriteBuffer& out = *s.out_;
    size_t padlen = frame->data.padlen;
    size_t total = 9 + length + padlen;
    if (out.size() >= s.batch_ || total > out.space()) {
      return out.empty() ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : NGHTTP2_ERR_WOULDBLOCK;
    }
    if (st.aborted) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t start = out.size();
    uint8_t* p = out.grow(total);
    std::memcpy(p, framehd, 9);
    p += 9;
    if (padlen > 0) *p++ = static_cast<uint8_t>(padlen - 1);
    if (!copy_part(st.part, p, length)) {
      out.shrink_to(start);
      st.aborted = true;  // nghttp2 resets the stream: never a short body that looks whole
      st.part = {};
      st.notify();
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (padlen > 1) std::memset(p + length, 0, padlen - 1);
    st.sent += length;
    st.last_progress = s.now_;
    if (st.part.remaining == 0) st.notify();
    return 0;
  }

  static ssize_t read(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                      nghttp2_data_source* source, void*) {
    Stream& st = *static_cast<Stream*>(source->ptr);
    if (st.aborted) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (st.part.remaining == 0) {
      st.deferred = true;  // until provide() lends the next part
      return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, st.part.remaining));
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (st.sent + n == st.declared) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Session& s = self(user_data);
    if (s.calm_ || frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    int32_t id = frame->hd.stream_id;
    s.streams_.emplace(id, std::make_unique<Stream>(id, s.opts_.max_header_list));
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                    void* user_data) {
    Stream* st = self(user_data).find(frame->hd.stream_id);
    if (st == nullptr) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    bool trailer = frame->headers.cat != NGHTTP2_HCAT_REQUEST;
    if (trailer ? st->request.count(n, v) : st->request.add(n, v)) return 0;
    // Over the limit: trailers and header bombs lose the stream (RST_STREAM, and
    // nghttp2 stops calling us for the rest of the block); a request head a little
    // over still gets its 431.
    if (trailer || st->request.bytes() > kBombFactor * st->request.limit()) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user_data) {
    Session& s = self(user_data);
    bool ack = (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0;
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
      case NGHTTP2_DATA:
        if (Stream* st = s.find(frame->hd.stream_id)) {
          if (end) st->peer_done = true;
          bool request_head = frame->hd.type == NGHTTP2_HEADERS &&
                              frame->headers.cat == NGHTTP2_HCAT_REQUEST;
          if (request_head) {
            st->bodyless = end;
            s.head_complete(*st);
          } else if (end) {
            st->notify();
          }
        }
        break;
      case NGHTTP2_RST_STREAM:
        // Before nghttp2 closes it: a later frame on it is answered STREAM_CLOSED.
        if (nghttp2_session_find_stream(ng, frame->hd.stream_id) != nullptr) {
          s.remember(frame->hd.stream_id, Closed::client_reset);
        }
        s.count_reset();
        break;
      case NGHTTP2_SETTINGS:
      case NGHTTP2_PING:
        if (!ack) s.count_control();
        break;
      default:
        break;
    }
    return 0;
  }

  static int data_chunk(nghttp2_session* ng, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t len, void* user_data) {
    Stream* st = self(user_data).find(stream_id);
    if (st == nullptr || !st->head || st->released) {
      nghttp2_session_consume(ng, stream_id, len);  // nobody will read it
      return 0;
    }
    st->append_body(data, len);
    st->notify();
    return 0;
  }

  static int stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                          void* user_data) {
    Session& s = self(user_data);
    s.remember(stream_id, Closed::ended);  // unless a RST_STREAM closed it
    Stream* st = s.find(stream_id);
    if (st == nullptr) return 0;
    st->closed = true;
    st->close_code = error_code;
    if (!st->attached) {
      s.discard(*st);
      return 0;
    }
    ++s.zombies_;
    st->notify();
    return 0;
  }

  static int frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Session& s = self(user_data);
    Stream* st = s.find(frame->hd.stream_id);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      // Before nghttp2 closes it. STREAM_CLOSED answers a frame on a stream already closed.
      if (frame->rst_stream.error_code != NGHTTP2_STREAM_CLOSED) {
        s.remember(frame->hd.stream_id, Closed::server_reset);
      }
      // Resets the client provoked (malformed requests, header bombs, refused streams)
      // cost like its own; ours for a failed body do not count.
      bool ours = st != nullptr && st->aborted;
      if (frame->rst_stream.error_code != NGHTTP2_NO_ERROR && !ours) s.count_reset();
      return 0;
    }
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (st != nullptr && end &&
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)) {
      st->response_done = true;
      s.finish_if_done(*st);
    }
    return 0;
  }
};

Result<void> Session::start() {
  nghttp2_session_callbacks* raw_cbs = nullptr;
  if (nghttp2_session_callbacks_new(&raw_cbs) != 0) return Error(Errc::io_error, "out of memory");
  std::unique_ptr<nghttp2_session_callbacks, Deleter<nghttp2_session_callbacks_del>> cbs(raw_cbs);
  nghttp2_session_callbacks_set_send_callback(raw_cbs, Callbacks::send);
  nghttp2_session_callbacks_set_send_data_callback(raw_cbs, Callbacks::send_data);
  nghttp2_session_callbacks_set_on_begin_headers_callback(raw_cbs, Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(raw_cbs, Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(raw_cbs, Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw_cbs, Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(raw_cbs, Callbacks::stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(raw_cbs, Callbacks::frame_send);

  nghttp2_option* raw_opt = nullptr;
  if (nghttp2_option_new(&raw_opt) != 0) return Error(Errc::io_error, "out of memory");
  std::unique_ptr<nghttp2_option, Deleter<nghttp2_option_del>> opt(raw_opt);
  nghttp2_option_set_no_auto_window_update(raw_opt, 1);  // credit returns as handlers read
  nghttp2_option_set_no_closed_streams(raw_opt, 1);
  nghttp2_option_set_max_deflate_dynamic_table_size(raw_opt, kDeflateTable);
  nghttp2_option_set_max_outbound_ack(raw_opt, kMaxOutboundAck);
  nghttp2_option_set_max_settings(raw_opt, kMaxSettingsEntries);
  nghttp2_option_set_max_continuations(raw_opt, kMaxContinuations);
  // nghttp2's own reset limit (Debian's backport of 1.57's) as a backstop behind ours.
  uint64_t rate = opts_.flood.resets_per_second;
  nghttp2_option_set_stream_reset_rate_limit(raw_opt, 2 * rate * opts_.flood.burst_seconds, rate);

  int rv = nghttp2_session_server_new2(&ng_, raw_cbs, this, raw_opt);
  if (rv != 0) return ng_error(rv, "cannot start an HTTP/2 session");
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, opts_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
       static_cast<uint32_t>(clamp_window(opts_.stream_window))},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, opts_.max_header_list},
  };
  rv = nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                               clamp_window(opts_.connection_window));
  }
  if (rv != 0) return ng_error(rv, "cannot queue HTTP/2 settings");
  return {};
}

Result<void> Session::respond(Stream& s, const std::vector<Field>& fields, uint64_t body_length) {
  auto nv = to_nv(fields);
  s.responded = true;
  s.declared = body_length;
  nghttp2_data_provider provider;
  provider.source.ptr = &s;
  provider.read_callback = Callbacks::read;
  int rv = nghttp2_submit_response(ng_, s.id, nv.data(), nv.size(),
                                   body_length > 0 ? &provider : nullptr);
  if (rv != 0) return ng_error(rv, "cannot send the response");
  return {};
}

}  // namespace shoal::http::h2
