// HTTP/3 on the h3 client's QUIC connection: nghttp3 set-up, the glue between
// ngtcp2's stream events and nghttp3, and the response callbacks that fill in the
// active Exchange.
#include <string>

#include "core/text.h"
#include "http/h3/client_conn.h"
#include "http/h3/client_util.h"

namespace shoal::http::h3::detail {

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxHeaders = 256;

Connection* self_of(void* p) { return static_cast<Connection*>(p); }

std::string_view view(nghttp3_rcbuf* buf) {
  nghttp3_vec v = nghttp3_rcbuf_get_buf(buf);
  return {reinterpret_cast<const char*>(v.base), v.len};
}

size_t header_bytes(const Response& r) {
  size_t n = 0;
  for (const auto& [name, value] : r.headers) n += name.size() + value.size();
  return n;
}

// Status line semantics without a status line: exactly three digits, 100-599.
unsigned parse_status(std::string_view s) {
  auto status = s.size() == 3 ? text::parse_uint<unsigned>(s) : std::nullopt;
  return status && *status >= 100 && *status <= 599 ? *status : 0;
}

}  // namespace

Result<void> Connection::init_http3() {
  nghttp3_callbacks cb{};
  cb.stream_close = h3_stream_close;
  cb.recv_data = h3_recv_data;
  cb.deferred_consume = h3_deferred_consume;
  cb.begin_headers = h3_begin_headers;
  cb.recv_header = h3_recv_header;
  cb.end_headers = h3_end_headers;
  cb.stop_sending = h3_stop_sending;
  cb.end_stream = h3_end_stream;
  cb.reset_stream = h3_reset_stream;
  cb.shutdown = h3_shutdown;
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  settings.max_field_section_size = kMaxHeaderBytes;
  settings.qpack_max_dtable_capacity = 4096;
  settings.qpack_blocked_streams = 16;
  nghttp3_conn* conn = nullptr;
  if (int rv = nghttp3_conn_client_new(&conn, &cb, &settings, nghttp3_mem_default(), this);
      rv != 0) {
    http3_error_ = rv;
    return Error(Errc::io_error, std::string("nghttp3: ") + nghttp3_strerror(rv));
  }
  h3_.reset(conn);
  // HTTP/3 needs our control stream and the two QPACK streams before any request.
  int64_t control = -1, encoder = -1, decoder = -1;
  if (ngtcp2_conn_open_uni_stream(quic_.get(), &control, nullptr) != 0 ||
      ngtcp2_conn_open_uni_stream(quic_.get(), &encoder, nullptr) != 0 ||
      ngtcp2_conn_open_uni_stream(quic_.get(), &decoder, nullptr) != 0) {
    return Error(Errc::protocol_error, "the server allows too few unidirectional streams");
  }
  if (int rv = nghttp3_conn_bind_control_stream(conn, control); rv != 0) {
    http3_error_ = rv;
    return Error(Errc::io_error, std::string("nghttp3: ") + nghttp3_strerror(rv));
  }
  if (int rv = nghttp3_conn_bind_qpack_streams(conn, encoder, decoder); rv != 0) {
    http3_error_ = rv;
    return Error(Errc::io_error, std::string("nghttp3: ") + nghttp3_strerror(rv));
  }
  return {};
}

Result<void> Connection::fetch(std::span<const nghttp3_nv> nva, Exchange& ex, bool reused) {
  if (error_) return *error_;
  auto credit = [this] { return ngtcp2_conn_get_streams_bidi_left(quic_.get()) > 0; };
  if (auto ok = run_until(credit); !ok) return ok;
  int64_t stream_id = -1;
  if (int rv = ngtcp2_conn_open_bidi_stream(quic_.get(), &stream_id, nullptr); rv != 0) {
    return fail_quic(rv, "opening a stream");
  }
  // No data reader: the request ends with its HEADERS frame (FIN).
  if (int rv = nghttp3_conn_submit_request(h3_.get(), stream_id, nva.data(), nva.size(), nullptr,
                                           nullptr);
      rv != 0) {
    return fail_http3(rv, "submitting the request");
  }
  active_ = &ex;
  active_stream_ = stream_id;
  // A live server acknowledges the request within a few PTOs, loss included.
  std::optional<Clock::duration> answer_within;
  if (reused) {
    auto pto = std::chrono::nanoseconds(ngtcp2_conn_get_pto(quic_.get()));
    answer_within = std::max<Clock::duration>(std::chrono::seconds(1), 4 * pto);
  }
  auto ok = run_until([&ex] { return ex.finished || ex.failure.has_value(); }, std::nullopt,
                      answer_within);
  if (ok && !ex.finished) abandon_active();
  active_ = nullptr;
  active_stream_ = -1;
  if (ok) ok = write_packets();  // send the cancellation (or final ACKs) now
  last_active_ = Clock::now();
  return ok;
}

// The caller gave up on the response (sink or hook error, bad response): cancel the
// stream but keep the connection for the next request.
void Connection::abandon_active() {
  if (active_stream_ < 0) return;
  (void)nghttp3_conn_shutdown_stream_read(h3_.get(), active_stream_);
  (void)ngtcp2_conn_shutdown_stream(quic_.get(), active_stream_, NGHTTP3_H3_REQUEST_CANCELLED);
}

Exchange* Connection::exchange_for(int64_t stream_id) const {
  return stream_id == active_stream_ ? active_ : nullptr;
}

// Bytes the application is done with: give the server that much more credit.
void Connection::consumed(int64_t stream_id, size_t n) {
  (void)ngtcp2_conn_extend_max_stream_offset(quic_.get(), stream_id, n);
  ngtcp2_conn_extend_max_offset(quic_.get(), n);
}

// --- ngtcp2 callbacks -------------------------------------------------------------

int Connection::on_rx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* self) {
  if (level != NGTCP2_CRYPTO_LEVEL_APPLICATION) return 0;
  return self_of(self)->init_http3() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int Connection::on_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t,
                               const uint8_t* data, size_t len, void* self, void*) {
  Connection* c = self_of(self);
  if (!c->h3_) return 0;
  auto n = nghttp3_conn_read_stream(c->h3_.get(), stream_id, data, len,
                                    (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  if (n < 0) {
    c->http3_error_ = static_cast<int>(n);
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  c->consumed(stream_id, static_cast<size_t>(n));  // frame overhead; DATA via recv_data
  return 0;
}

int Connection::on_acked(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t len, void* self,
                         void*) {
  Connection* c = self_of(self);
  if (!c->h3_) return 0;
  if (int rv = nghttp3_conn_add_ack_offset(c->h3_.get(), stream_id, len); rv != 0) {
    c->http3_error_ = rv;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::on_stream_close(ngtcp2_conn* conn, uint32_t flags, int64_t stream_id,
                                uint64_t app_error, void* self, void*) {
  Connection* c = self_of(self);
  if (!c->h3_) return 0;
  if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) app_error = NGHTTP3_H3_NO_ERROR;
  int rv = nghttp3_conn_close_stream(c->h3_.get(), stream_id, app_error);
  if (rv == NGHTTP3_ERR_STREAM_NOT_FOUND) {
    // A server uni stream nghttp3 never saw data on (grease): give the credit back.
    if (!ngtcp2_is_bidi_stream(stream_id) && !ngtcp2_conn_is_local_stream(conn, stream_id)) {
      ngtcp2_conn_extend_max_streams_uni(conn, 1);
    }
    return 0;
  }
  if (rv != 0) {
    c->http3_error_ = rv;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::on_stream_reset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t, void* self,
                                void*) {
  Connection* c = self_of(self);
  if (!c->h3_) return 0;
  if (int rv = nghttp3_conn_shutdown_stream_read(c->h3_.get(), stream_id); rv != 0) {
    c->http3_error_ = rv;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::on_stop_sending(ngtcp2_conn* conn, int64_t stream_id, uint64_t app_error,
                                void* self, void* stream_data) {
  return on_stream_reset(conn, stream_id, 0, app_error, self, stream_data);
}

int Connection::on_extend_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t, void* self,
                                      void*) {
  Connection* c = self_of(self);
  if (!c->h3_) return 0;
  if (int rv = nghttp3_conn_unblock_stream(c->h3_.get(), stream_id); rv != 0) {
    c->http3_error_ = rv;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

// --- nghttp3 callbacks ------------------------------------------------------------

int Connection::h3_recv_data(nghttp3_conn*, int64_t stream_id, const uint8_t* data, size_t len,
                             void* self, void*) {
  Connection* c = self_of(self);
  // Credit goes back after the sink returns: a slow sink throttles the server
  // instead of growing a buffer here.
  Exchange* ex = c->exchange_for(stream_id);
  if (ex && !ex->failure && ex->head_done) {
    const char* bytes = reinterpret_cast<const char*>(data);
    if (ex->response.success()) {
      if (auto ok = (*ex->sink)(bytes, len); !ok) ex->failure = ok.error();
    } else if (ex->response.body.size() + len > http::Client::kMaxSmallBody) {
      ex->failure.emplace(Errc::too_large, "error body too large");
    } else {
      ex->response.body.append(bytes, len);
    }
  }
  c->consumed(stream_id, len);
  return 0;
}

int Connection::h3_deferred_consume(nghttp3_conn*, int64_t stream_id, size_t consumed, void* self,
                                    void*) {
  self_of(self)->consumed(stream_id, consumed);
  return 0;
}

int Connection::h3_begin_headers(nghttp3_conn*, int64_t stream_id, void* self, void*) {
  if (Exchange* ex = self_of(self)->exchange_for(stream_id)) ex->received_anything = true;
  return 0;
}

int Connection::h3_recv_header(nghttp3_conn*, int64_t stream_id, int32_t, nghttp3_rcbuf* name,
                               nghttp3_rcbuf* value, uint8_t, void* self, void*) {
  Connection* c = self_of(self);
  Exchange* ex = c->exchange_for(stream_id);
  if (!ex || ex->failure) return 0;
  std::string_view n = view(name), v = view(value);
  if (n == ":status") {
    ex->response.status = parse_status(v);
    return 0;
  }
  if (n.starts_with(':')) return 0;
  if (ex->response.headers.size() >= kMaxHeaders ||
      header_bytes(ex->response) + n.size() + v.size() > kMaxHeaderBytes) {
    ex->failure.emplace(Errc::protocol_error,
                        "response headers from " + c->url_.endpoint() + " too large");
    return 0;
  }
  ex->response.headers.emplace_back(std::string(n), std::string(v));
  return 0;
}

int Connection::h3_end_headers(nghttp3_conn*, int64_t stream_id, int, void* self, void*) {
  Connection* c = self_of(self);
  Exchange* ex = c->exchange_for(stream_id);
  if (!ex || ex->failure) return 0;
  Response& r = ex->response;
  if (r.status == 0) {
    ex->failure.emplace(Errc::protocol_error,
                        "response from " + c->url_.endpoint() + " without a valid :status");
    return 0;
  }
  if (r.status < 200) {  // informational: the real response follows
    r.status = 0;
    r.headers.clear();
    return 0;
  }
  ex->head_done = true;
  if (r.success() && ex->on_head && *ex->on_head) {
    if (auto ok = (*ex->on_head)(r); !ok) ex->failure = ok.error();
  }
  return 0;
}

int Connection::h3_end_stream(nghttp3_conn*, int64_t stream_id, void* self, void*) {
  Connection* c = self_of(self);
  Exchange* ex = c->exchange_for(stream_id);
  if (!ex) return 0;
  if (!ex->head_done && !ex->failure) {
    ex->failure.emplace(Errc::protocol_error,
                        "request stream to " + c->url_.endpoint() + " ended without a response");
  }
  ex->finished = true;
  return 0;
}

int Connection::h3_stream_close(nghttp3_conn*, int64_t stream_id, uint64_t app_error, void* self,
                                void*) {
  Connection* c = self_of(self);
  Exchange* ex = c->exchange_for(stream_id);
  if (ex && !ex->finished && !ex->failure) {
    ex->failure.emplace(Errc::protocol_error, c->url_.endpoint() +
                                                  " closed the request stream early (HTTP/3 "
                                                  "error " +
                                                  hex(app_error) + ")");
  }
  return 0;
}

int Connection::h3_stop_sending(nghttp3_conn*, int64_t stream_id, uint64_t app_error, void* self,
                                void*) {
  Connection* c = self_of(self);
  if (ngtcp2_conn_shutdown_stream_read(c->quic_.get(), stream_id, app_error) != 0) {
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::h3_reset_stream(nghttp3_conn*, int64_t stream_id, uint64_t app_error, void* self,
                                void*) {
  Connection* c = self_of(self);
  if (ngtcp2_conn_shutdown_stream_write(c->quic_.get(), stream_id, app_error) != 0) {
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::h3_shutdown(nghttp3_conn*, int64_t, void* self) {
  self_of(self)->goaway_ = true;  // finish what runs, open nothing new here
  return 0;
}

}  // namespace shoal::http::h3::detail
