// Requests on the HTTP/2 client's connection: one at a time with a retry on a stale
// connection (download), or many streams at once for load generation
// (download_streams); and the nghttp2 callbacks that fill in each stream's Exchange.
#include <algorithm>
#include <list>

#include "core/text.h"
#include "http/h2/client_impl.h"

namespace shoal::http::h2 {
namespace detail {
namespace {

Exchange* exchange_of(nghttp2_session* session, int32_t stream_id) {
  return static_cast<Exchange*>(nghttp2_session_get_stream_user_data(session, stream_id));
}

// Stops the stream but keeps the connection: the error is the caller's, not the peer's.
void cancel(nghttp2_session* session, int32_t stream_id, Exchange& ex, Error error) {
  if (!ex.error) ex.error = std::move(error);
  nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
}

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  Exchange* ex = exchange_of(session, frame->hd.stream_id);
  if (frame->hd.type != NGHTTP2_HEADERS || !ex || ex->head_done) return 0;  // trailers ignored
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  ex->got_any = true;
  if (n == ":status") {
    // nghttp2 has checked it is three digits (RFC 9113 §8.3.2).
    ex->head.status = text::parse_uint<unsigned>(v).value_or(0);
  } else if (!n.starts_with(':')) {
    ex->head.headers.emplace_back(n, v);
  }
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  Exchange* ex = exchange_of(session, frame->hd.stream_id);
  if (frame->hd.type != NGHTTP2_HEADERS || !ex || ex->head_done) return 0;
  if (ex->head.status < 200) {  // an interim response (100 Continue, 103): wait for the final one
    ex->head = Response{};
    return 0;
  }
  ex->head_done = true;
  if (ex->head.success() && ex->on_head && *ex->on_head) {
    if (auto ok = (*ex->on_head)(ex->head); !ok)
      cancel(session, frame->hd.stream_id, *ex, ok.error());
  }
  return 0;
}

int on_data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                  size_t len, void*) {
  Exchange* ex = exchange_of(session, stream_id);
  if (!ex || ex->error) return 0;
  ex->got_any = true;
  const char* bytes = reinterpret_cast<const char*>(data);
  if (ex->head.success()) {
    if (auto ok = (*ex->sink)(bytes, len); !ok) cancel(session, stream_id, *ex, ok.error());
  } else if (ex->head.body.size() + len > http::Client::kMaxSmallBody) {
    cancel(session, stream_id, *ex, Error(Errc::too_large, "error body too large"));
  } else {
    ex->head.body.append(bytes, len);
  }
  return 0;
}

int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t code, void*) {
  if (Exchange* ex = exchange_of(session, stream_id)) {
    ex->closed = true;
    ex->close_code = code;
  }
  return 0;
}

}  // namespace

nghttp2_session_callbacks* make_callbacks() {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  return cb;
}

}  // namespace detail

namespace {

bool connection_specific(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "transfer-encoding" || lower_name == "upgrade" ||
         lower_name == "proxy-connection";
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

nghttp2_nv nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

// One round: send what nghttp2 has queued, then, unless `ready()` says a stream has
// ended (sending our own RST_STREAM ends one) and its caller should hear of it
// first, read once and feed it in. The callbacks run inside mem_recv, so sinks see
// the bytes straight from rbuf_.
template <class Ready>
Result<void> Client::Impl::pump(Ready&& ready) {
  if (auto ok = flush(); !ok) return ok;
  if (ready()) return {};
  if (!nghttp2_session_want_read(session_.get()))
    return Error(Errc::unavailable, "the server at " + base_.endpoint() + " ended the connection");
  size_t got = 0;
  auto ec = run(opt_.io_timeout, [&](auto done) {
    tls_->async_read_some(asio::buffer(rbuf_.get(), detail::kReadBuffer),
                          [&got, done](beast::error_code e, size_t n) mutable {
                            got = n;
                            done(e);
                          });
  });
  if (ec) return fail(ec, "read from");
  ssize_t rv = nghttp2_session_mem_recv(session_.get(), rbuf_.get(), got);
  if (rv < 0) {
    return Error(Errc::protocol_error,
                 "HTTP/2 from " + base_.endpoint() + ": " + nghttp2_strerror(static_cast<int>(rv)));
  }
  return {};
}

Result<bool> Client::Impl::ensure_connected() {
  if (usable()) return true;
  auto h2 = connect();
  if (!h2) return h2.error();
  if (!*h2) {
    return Error(Errc::protocol_error,
                 "the server at " + base_.endpoint() + " does not speak HTTP/2 (ALPN chose " +
                     (alpn_.empty() ? std::string("nothing") : "\"" + alpn_ + "\"") + ")");
  }
  bool reused = !fresh_;
  fresh_ = false;
  return reused;
}

RequestFields Client::Impl::request_fields(std::string_view path, const Headers& headers) const {
  RequestFields f;
  f.fields = {
      {":method", "GET"},
      {":scheme", "https"},
      {":authority", base_.host_header()},
      {":path", base_.target(path)},
      {"user-agent", opt_.user_agent},
  };
  for (const auto& [name, value] : headers) {
    std::string lower = lowercase(name);
    if (!connection_specific(lower)) f.fields.emplace_back(std::move(lower), value);
  }
  for (const auto& [name, value] : f.fields) f.nva.push_back(nv(name, value));
  return f;
}

Result<void> Client::Impl::submit(const RequestFields& f, Exchange& ex) {
  int32_t id =
      nghttp2_submit_request(session_.get(), nullptr, f.nva.data(), f.nva.size(), nullptr, &ex);
  if (id < 0)
    return Error(Errc::protocol_error, std::string("HTTP/2 request: ") + nghttp2_strerror(id));
  return {};
}

// The outcome of a stream that has closed.
Result<Response> Client::Impl::finish(Exchange& ex) const {
  if (ex.error) return *ex.error;
  if (ex.close_code != NGHTTP2_NO_ERROR) {
    return Error(Errc::unavailable, "the server at " + base_.endpoint() + " reset the stream (" +
                                        nghttp2_http2_strerror(ex.close_code) + ")");
  }
  if (!ex.head_done) return Error(Errc::protocol_error, "HTTP/2 stream ended without a response");
  return std::move(ex.head);
}

Result<Response> Client::Impl::exchange(const RequestFields& f, Exchange& ex) {
  if (auto ok = submit(f, ex); !ok) return ok.error();
  while (!ex.closed) {
    if (auto ok = pump([&] { return ex.closed; }); !ok) return ok.error();
  }
  // RST_STREAM or WINDOW_UPDATE queued by the last frames: keep the peer in step.
  if (auto ok = flush(); !ok) reset();
  return finish(ex);
}

Result<Response> Client::Impl::download(std::string_view path, const Headers& headers,
                                        const BodySink& sink, const HeadHook& on_head) {
  RequestFields fields = request_fields(path, headers);
  for (int attempt = 0;; ++attempt) {
    auto reused = ensure_connected();
    if (!reused) return reused.error();
    Exchange ex;
    ex.sink = &sink;
    ex.on_head = &on_head;
    auto r = exchange(fields, ex);
    if (r) return r;
    bool nothing_came = !ex.got_any && !ex.error;
    // An idle connection the server closed or refused (GOAWAY) gave us nothing for
    // this stream: a GET is safe to repeat once on a new connection.
    if (!*reused || attempt > 0 || !nothing_came) {
      if (!ex.closed) reset();  // the connection failed, not just the stream
      return r;
    }
    reset();
  }
}

// A stream in flight: its request (owning the sink) and what it has seen. Kept in a
// std::list so the Exchange's address, nghttp2's stream user data, stays put.
struct InFlight {
  StreamRequest req;
  Exchange ex;
};

Result<void> Client::Impl::download_streams(std::string_view path, const Headers& headers,
                                            unsigned streams, const NextRequest& next) {
  auto reused = ensure_connected();
  if (!reused) {
    // Fail one request with it, so a caller looping until next() is exhausted advances.
    if (StreamRequest r; next(r)) r.done(reused.error());
    return reused.error();
  }
  RequestFields fields = request_fields(path, headers);
  static const HeadHook kNoHook;
  std::list<InFlight> active;
  bool more = true;
  Result<void> ok;
  while (ok) {
    while (more && active.size() < std::max(streams, 1u)) {
      InFlight& f = active.emplace_back();
      if (!next(f.req)) {
        active.pop_back();
        more = false;
        break;
      }
      f.ex.sink = &f.req.sink;
      f.ex.on_head = &kNoHook;
      if (ok = submit(fields, f.ex); !ok) break;
    }
    if (!ok || active.empty()) break;
    auto any_closed = [&] {
      return std::any_of(active.begin(), active.end(),
                         [](const InFlight& f) { return f.ex.closed; });
    };
    if (ok = pump(any_closed); !ok) break;
    for (auto it = active.begin(); it != active.end();) {
      if (!it->ex.closed) {
        ++it;
        continue;
      }
      it->req.done(finish(it->ex));
      it = active.erase(it);
    }
  }
  if (ok) ok = flush();
  if (!ok) {
    for (InFlight& f : active) f.req.done(ok.error());
    reset();
  }
  return ok;
}

}  // namespace shoal::http::h2
