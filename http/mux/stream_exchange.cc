#include "http/mux/stream_exchange.h"

namespace shoal::http::mux {


awaitable<void> Wakeup::wait_until(Clock::time_point deadline) {
  timer_.expires_at(deadline);
  beast::error_code ec;
  co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

StreamExchange::StreamExchange(StreamTransport& conn, Stream& stream, std::string remote,
                               std::string_view protocol)
    : Exchange(std::move(stream.head->head), std::move(remote)),
      c_(conn),
      s_(&stream),
      wake_(conn.executor()) {
  protocol_ = protocol;
  content_length_ = stream.head->content_length;
  // No Content-Length: the body ends with END_STREAM, which is what chunked means to
  // handlers (an upload of unknown length).
  if (!content_length_ && stream.bodyless) content_length_ = 0;
  if (!content_length_) chunked_ = true;
  stream.observer = this;
}

StreamExchange::~StreamExchange() { release(); }

bool StreamExchange::usable() const {
  return s_ != nullptr && !s_->closed && !s_->aborted && c_.alive();
}

bool StreamExchange::expects_continue() const {
  std::string_view expect = header(bhttp::field::expect);
  return beast::iequals(beast::string_view(expect.data(), expect.size()), "100-continue");
}

Error StreamExchange::read_error(std::string_view what) const {
  return Error(Errc::io_error,
               std::string(what) + " after " + std::to_string(body_read_) + " body bytes");
}

awaitable<Result<size_t>> StreamExchange::read_body(std::span<char> buf) {
  if (buf.empty() || s_ == nullptr) co_return size_t{0};
  if (!continue_sent_ && !s_->peer_done && s_->buffered() == 0 && expects_continue() && usable()) {
    continue_sent_ = true;
    c_.send_continue(*s_);
    c_.flush();
  }
  const auto deadline = Clock::now() + c_.opts().read_timeout;
  for (;;) {
    if (s_->buffered() > 0) {
      size_t n = s_->take_body(buf);
      c_.consume(*s_, n);
      c_.flush();
      body_read_ += n;
      co_return n;
    }
    if (s_->peer_done) co_return size_t{0};
    if (s_->closed) co_return read_error("client reset the stream");
    if (!c_.alive()) co_return read_error("client connection lost");
    if (Clock::now() >= deadline) {
      co_return Error(Errc::timed_out,
                      "client stalled after " + std::to_string(body_read_) + " body bytes");
    }
    co_await wake_.wait_until(deadline);
  }
}

bool StreamExchange::submit(Head& head, uint64_t content_length, uint64_t body_length) {
  responded_ = true;
  status_ = head.result();
  if (!usable()) return false;
  apply_extra_headers(head);
  auto fields = mux::response_fields(head, c_.opts().server_name, content_length);
  bool ok = c_.respond(*s_, fields, body_length).ok();
  c_.flush();
  return ok;
}

awaitable<void> StreamExchange::respond_with(Head head, BodySource body) {
  if (responded_) co_return;
  bool with_body = method() != bhttp::verb::head && mux::status_allows_body(head.result_int());
  uint64_t body_length = with_body ? body.remaining : 0;
  if (!submit(head, body.remaining, body_length) || body_length == 0) co_return;
  co_await send_part(body);
}

awaitable<void> StreamExchange::respond(Head head, std::string_view body) {
  co_await respond_with(std::move(head), BodySource{body.data(), -1, 0, body.size()});
}

awaitable<void> StreamExchange::respond_file(Head head, int fd, uint64_t offset, uint64_t length) {
  co_await respond_with(std::move(head), BodySource{nullptr, fd, offset, length});
}

awaitable<bool> StreamExchange::start_body(Head head, uint64_t length) {
  if (responded_) co_return false;
  bool head_only = method() == bhttp::verb::head;
  if (!submit(head, length, head_only ? 0 : length) || head_only) co_return false;
  streaming_ = true;
  co_return true;
}

awaitable<bool> StreamExchange::send_file_part(int fd, uint64_t offset, uint64_t length) {
  if (!streaming_ || !usable() || length > s_->declared - s_->sent) co_return false;
  if (length == 0) co_return true;
  co_return co_await send_part(BodySource{nullptr, fd, offset, length});
}

// Waits until the session has framed the whole part (the bytes are then in the
// write buffer, so the caller may reuse its memory or close its file). A client
// that takes no data for read_timeout loses the stream rather than pinning it.
awaitable<bool> StreamExchange::send_part(BodySource part) {
  c_.provide(*s_, part, Clock::now());
  c_.flush();
  for (;;) {
    sent_ = s_->sent;
    if (s_->aborted) break;
    if (s_->part.remaining == 0) co_return true;
    if (s_->closed || !c_.alive()) break;
    const auto deadline = s_->last_progress + c_.opts().read_timeout;
    if (Clock::now() >= deadline) break;
    co_await wake_.wait_until(deadline);
  }
  c_.abort(*s_);
  c_.flush();
  co_return false;
}

awaitable<void> StreamExchange::finish() {
  if (!responded_) {
    co_await respond_error(bhttp::status::internal_server_error, "INTERNAL", "internal error");
  }
  if (close_ && s_ != nullptr) c_.drain();
  release();
}

void StreamExchange::release() {
  if (s_ == nullptr) return;
  c_.release(*s_);
  s_ = nullptr;
  c_.flush();
}

}  // namespace shoal::http::mux
