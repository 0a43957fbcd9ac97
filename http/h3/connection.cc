#include "http/h3/connection.h"

#include "core/log.h"

namespace shoal::http::detail {
namespace {

// ngtcp2 lets a packet go up to this long before its pacing slot (NGTCP2_PKT_PACING_OVERHEAD).
constexpr auto kPacingSlack = std::chrono::milliseconds(1);

}  // namespace

H3Connection::H3Connection(H3Endpoint& ep, std::string remote, std::string ip)
    : ep_(ep),
      remote_(std::move(remote)),
      ip_(std::move(ip)),
      timer_(ep.executor()),
      out_(std::make_unique_for_overwrite<uint8_t[]>(kH3BurstBytes)) {}

H3Connection::~H3Connection() {
  dying_ = true;
  session_.reset();
}

Result<void> H3Connection::start(const h3::TlsContext& tls, const h3::Accepted& a,
                                 std::span<const uint8_t> secret) {
  auto s = h3::Session::accept(ep_.session_options(), tls, a, secret, *this, mux::Clock::now());
  if (!s) return s.error();
  session_ = std::move(*s);
  return {};
}

void H3Connection::add_cid(const ngtcp2_cid& cid, h3::Session*) {
  if (dying_) return;
  keys_.push_back(cid_key(cid));
  ep_.route(cid, shared_from_this());
}

void H3Connection::remove_cid(const ngtcp2_cid& cid) {
  if (dying_) return;
  std::string k = cid_key(cid);
  std::erase(keys_, k);
  ep_.unroute(cid);
}

void H3Connection::on_datagram(const ngtcp2_path& path, std::span<const uint8_t> data) {
  if (ended_ || !session_) return;
  auto ok = session_->receive(path, data, mux::Clock::now());
  if (!ok && !ok.error().is(Errc::cancelled)) {
    log::debug("HTTP/3 connection failed", {{"remote", remote_}, {"error", ok.error().message}});
  }
  spawn_handlers();
  // Deferred to the end of the read batch, and then posted: the batch's datagrams and
  // the handlers they start run first, so one burst carries the ACKs and responses.
  if (!touched_) {
    touched_ = true;
    ep_.touched(shared_from_this());
  }
}

void H3Connection::after_io() {
  write_out();
  if (session_->finished()) return end();
  arm_timer();
}

void H3Connection::write_out() {
  if (ended_) return;
  if (pending_.size > 0) {
    if (!ep_.send(pending_)) return ep_.wait_writable(shared_from_this());
    pending_.size = 0;
  }
  const size_t max_packets =
      std::max<size_t>(1, h3::kMaxGsoBytes / std::max<size_t>(1, session_->max_udp_payload()));
  for (;;) {
    auto b = session_->write(out_.get(), kH3BurstBytes, max_packets, mux::Clock::now());
    if (!b) {
      log::debug("HTTP/3 connection closed", {{"remote", remote_}, {"reason", b.error().message}});
      alive_ = false;
      session_->notify_all();
      continue;  // the session now writes its CONNECTION_CLOSE
    }
    if (b->size == 0) break;
    if (!ep_.send(*b)) {
      pending_ = *b;
      return ep_.wait_writable(shared_from_this());
    }
  }
}

void H3Connection::flush() {
  touched_ = false;
  if (flush_posted_ || ended_) return;
  flush_posted_ = true;
  // Handlers woken by the same event run first, so one burst carries all they queue.
  asio::post(executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    if (!self->ended_) self->after_io();
  });
}

// Re-arming costs a timerfd syscall in Asio's reactor, and the expiry changes with
// nearly every packet, so the timer is moved only when the session's expiry comes
// sooner than it is set for. One that fires early finds nothing due (ngtcp2 checks)
// and is set again for the real expiry.
//
// ngtcp2 also reports its pacing slot as an expiry, and after each packet that slot
// lies within the millisecond ngtcp2 lets a sender run ahead of it: a timer for it
// would cost a timerfd update and a wake-up per packet to learn nothing is due.
// Handling the expiry at once clears it (and anything really due).
void H3Connection::arm_timer() {
  auto now = mux::Clock::now();
  auto at = session_->expiry();
  if (at <= now + kPacingSlack) {
    expire(now);
    write_out();
    if (session_->finished()) return end();
    at = session_->expiry();
  }
  if (at == mux::Clock::time_point::max() || at >= armed_at_) return;
  armed_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->ended_) return;
    self->armed_at_ = mux::Clock::time_point::max();
    H3Stats::add(self->ep_.stats()->timer_wakeups);
    self->expire(mux::Clock::now());
    self->after_io();
  });
}

// A failed expiry (idle timeout, too many probes) leaves the session closing.
void H3Connection::expire(mux::Clock::time_point now) {
  if (!session_->handle_expiry(now)) alive_ = false;
}

void H3Connection::close_now(uint64_t h3_error) {
  if (ended_) return;
  alive_ = false;
  session_->close(h3_error);
  session_->notify_all();
  after_io();
}

void H3Connection::spawn_handlers() {
  for (mux::Stream* stream : session_->take_ready()) {
    if (handlers_ >= opts().max_concurrent_streams || !alive_) {
      session_->refuse(*stream);
      continue;
    }
    ++handlers_;
    asio::co_spawn(executor(), serve_stream(shared_from_this(), stream), asio::detached);
  }
}

awaitable<void> H3Connection::serve_stream(std::shared_ptr<H3Connection> self,
                                           mux::Stream* stream) {
  {
    mux::StreamExchange ex(*this, *stream, remote_, "h3");
    if (!ep_.context().alt_svc.empty())
      ex.add_response_header("alt-svc", std::string(ep_.context().alt_svc));
    try {
      co_await ep_.context().handler(ex);
    } catch (const std::exception& e) {
      log::error("handler failed", {{"error", e.what()}, {"path", ex.path()}});
    }
    co_await ex.finish();
  }
  --handlers_;
  if (session_->finished() && handlers_ == 0) end();
  (void)self;
}

// The session is over: no more datagrams reach it; it is destroyed once the last
// handler lets go of its stream.
void H3Connection::end() {
  if (!ended_) {
    ended_ = true;
    alive_ = false;
    timer_.cancel();
    session_->notify_all();
  }
  if (handlers_ == 0) ep_.finished(*this);
}

}  // namespace shoal::http::detail
