#include "tracker/redis_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/log.h"
#include "http/offload.h"

namespace shoal::tracker::redis {

struct Client::Conn {
  explicit Conn(asio::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  ReplyReader reader;
  HostPort server;
  uint64_t generation = 0;
  std::array<char, 16 * 1024> buf;
};

struct Client::Waiter {
  explicit Waiter(asio::io_context& ioc) : timer(ioc) {}
  asio::steady_timer timer;
  ConnPtr conn;       // handed over by release()
  bool slot = false;  // or: may open a connection of its own
};

namespace {

// The most one request's replies may take: far above a full swarm of ordinary peers,
// low enough that a confused server cannot make the tracker buffer without end.
constexpr size_t kMaxReplyBytes = size_t{256} << 20;

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

Error io_failure(const HostPort& server, std::string_view what, const beast::error_code& ec,
                 std::chrono::milliseconds timeout) {
  std::string where = "redis " + server.str() + ": " + std::string(what);
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    return Error(Errc::unavailable, where + " timed out after " + ms_text(timeout));
  }
  if (ec == asio::error::eof) return Error(Errc::unavailable, where + ": connection closed");
  return Error(Errc::unavailable, where + ": " + ec.message());
}

// A pooled connection that the server has since closed (a restart, its idle timeout)
// shows as readable while idle: checking first saves a failed request and its retry.
bool peer_closed(beast::tcp_stream& stream) {
  char c;
  ssize_t n = ::recv(stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

}  // namespace

Client::Client(ClientOptions options)
    : opts_(std::move(options)), work_(asio::make_work_guard(ioc_)) {
  thread_ = std::thread([this] {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        // Nothing here throws by design; a bug must not stop every later request.
        log::error("redis client: unexpected exception", {{"error", e.what()}});
      }
    }
  });
}

Client::~Client() {
  work_.reset();
  ioc_.stop();
  thread_.join();
  idle_.clear();
  waiters_.clear();
}

awaitable<Result<std::vector<Reply>>> Client::request(std::string payload, size_t count) {
  std::optional<Result<std::vector<Reply>>> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        auto shutdown_barrier = asio::make_work_guard(http::blocking_pool());
        asio::co_spawn(ioc_, run_into(std::move(payload), count, &result),
                       [&result, h = std::move(handler),
                        g = std::move(shutdown_barrier)](std::exception_ptr e) mutable {
                         if (e || !result) {
                           result.emplace(Error(Errc::unavailable, "redis client failed"));
                         }
                         http::resume_on_own_executor(std::move(h));
                         g.reset();
                       });
      },
      asio::use_awaitable);
  co_return std::move(*result);
}

awaitable<void> Client::run_into(std::string payload, size_t count,
                                 std::optional<Result<std::vector<Reply>>>* out) {
  auto r = co_await request_here(std::move(payload), count);
  out->emplace(std::move(r));
}

awaitable<Result<std::vector<Reply>>> Client::request_here(std::string payload, size_t count) {
  stats_.commands.fetch_add(count, std::memory_order_relaxed);
  Error last(Errc::unavailable, "redis: no attempt made");
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) stats_.retries.fetch_add(1, std::memory_order_relaxed);
    auto lease = co_await acquire();
    if (!lease) {
      last = lease.error();
      if (lease.error().is(Errc::timed_out)) break;  // the pool is busy, not broken
      invalidate();
      continue;
    }
    ConnPtr conn = std::move(*lease);
    auto replies = co_await exchange(*conn, payload, count);
    if (!replies) {
      last = replies.error();
      drop(conn);
      invalidate();
      continue;
    }
    const Reply* refused = nullptr;
    for (const Reply& r : *replies) {
      ReplyFault f = classify(r);
      if (f == ReplyFault::failover || f == ReplyFault::busy) {
        refused = &r;
        break;
      }
    }
    if (refused == nullptr) {
      release(std::move(conn));
      note_success();
      co_return replies;
    }
    last = Error(Errc::unavailable, "redis " + conn->server.str() + " answered: " + refused->str);
    if (classify(*refused) == ReplyFault::busy) {
      release(std::move(conn));  // the connection is fine; the server cannot answer yet
      break;
    }
    // A demoted master: this server will not take writes again, find the new one.
    drop(conn);
    invalidate();
  }
  note_failure(last);
  // Every failure is "unavailable" to the caller, the pool's own wait included.
  co_return Error(Errc::unavailable, last.message);
}

awaitable<Result<Client::ConnPtr>> Client::acquire() {
  while (!idle_.empty()) {
    ConnPtr c = std::move(idle_.back());
    idle_.pop_back();
    if (c->generation == generation_ && !peer_closed(c->stream)) co_return c;
    drop(c);
  }
  if (open_ < opts_.max_connections) {
    ++open_;
    stats_.connections.store(static_cast<int64_t>(open_), std::memory_order_relaxed);
    co_return co_await open_in_slot();
  }
  auto w = std::make_shared<Waiter>(ioc_);
  w->timer.expires_after(opts_.timeout);
  waiters_.push_back(w);
  beast::error_code ec;
  co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (w->conn) co_return std::move(w->conn);
  if (w->slot) co_return co_await open_in_slot();
  std::erase(waiters_, w);
  co_return Error(Errc::timed_out, "redis: no free connection within " + ms_text(opts_.timeout) +
                                       " (all " + std::to_string(opts_.max_connections) +
                                       " busy)");
}

awaitable<Result<Client::ConnPtr>> Client::open_in_slot() {
  auto c = co_await open();
  if (!c) {
    --open_;
    stats_.connections.store(static_cast<int64_t>(open_), std::memory_order_relaxed);
    hand_slot();
  }
  co_return c;
}

void Client::release(ConnPtr conn) {
  if (conn->generation != generation_ || !conn->stream.socket().is_open()) {
    drop(conn);
    return;
  }
  if (!waiters_.empty()) {
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    w->conn = std::move(conn);
    w->timer.cancel();
    return;
  }
  idle_.push_back(std::move(conn));
}

void Client::drop(const ConnPtr& conn) {
  beast::error_code ec;
  conn->stream.socket().close(ec);
  --open_;
  stats_.connections.store(static_cast<int64_t>(open_), std::memory_order_relaxed);
  hand_slot();
}

void Client::hand_slot() {
  if (waiters_.empty() || open_ >= opts_.max_connections) return;
  auto w = std::move(waiters_.front());
  waiters_.pop_front();
  ++open_;
  stats_.connections.store(static_cast<int64_t>(open_), std::memory_order_relaxed);
  w->slot = true;
  w->timer.cancel();
}

void Client::invalidate() {
  ++generation_;
  master_.reset();
  auto idle = std::move(idle_);
  idle_.clear();
  for (const ConnPtr& c : idle) drop(c);
}

awaitable<Result<Client::ConnPtr>> Client::open() {
  const uint64_t generation = generation_;
  const bool sentinel = opts_.target.kind == RedisTarget::Kind::sentinel;
  HostPort server;
  if (!sentinel) {
    server = opts_.target.servers.front();
  } else if (master_) {
    server = *master_;
  } else {
    auto found = co_await find_master();
    if (!found) co_return found.error();
    server = *found;
    if (generation == generation_) master_ = server;
    if (last_master_ && !(*last_master_ == server)) {
      stats_.master_changes.fetch_add(1, std::memory_order_relaxed);
      log::warn("redis master changed", {{"master", opts_.target.master_name},
                                         {"from", last_master_->str()},
                                         {"to", server.str()}});
    } else if (!last_master_) {
      log::info("redis master found",
                {{"master", opts_.target.master_name}, {"addr", server.str()}});
    }
    last_master_ = server;
  }
  auto conn = co_await connect_to(server);
  if (!conn) co_return conn.error();
  ConnPtr c = std::move(*conn);
  c->generation = generation;
  std::string hello;
  size_t count = 0;
  if (opts_.target.db != 0) {
    hello += encode_command({"SELECT", std::to_string(opts_.target.db)});
    ++count;
  }
  if (sentinel) {
    hello += encode_command({"ROLE"});
    ++count;
  }
  if (count == 0) co_return c;
  auto replies = co_await exchange(*c, hello, count);
  if (!replies) {
    beast::error_code ec;
    c->stream.socket().close(ec);
    co_return replies.error();
  }
  std::string refused;
  if (opts_.target.db != 0 && (*replies)[0].is_error()) {
    refused = "SELECT " + std::to_string(opts_.target.db) + ": " + (*replies)[0].str;
  } else if (sentinel && !role_is_master(replies->back())) {
    const Reply& role = replies->back();
    std::string what = role.is_error() ? role.str
                       : (role.type == Reply::Type::array && !role.elements.empty())
                           ? role.elements[0].str
                           : std::string("an odd answer");
    refused = "not a master (ROLE: " + what + ")";
  }
  if (!refused.empty()) {
    beast::error_code ec;
    c->stream.socket().close(ec);
    co_return Error(Errc::unavailable, "redis " + server.str() + ": " + refused);
  }
  co_return c;
}

awaitable<Result<HostPort>> Client::find_master() {
  const auto& sentinels = opts_.target.servers;
  const std::string& name = opts_.target.master_name;
  const std::string ask =
      encode_command({"SENTINEL", "get-master-addr-by-name", std::string_view(name)});
  std::string why;
  for (size_t i = 0; i < sentinels.size(); ++i) {
    size_t index = (first_sentinel_ + i) % sentinels.size();
    const HostPort& s = sentinels[index];
    auto conn = co_await connect_to(s);
    if (!conn) {
      why += (why.empty() ? "" : "; ") + conn.error().message;
      continue;
    }
    auto replies = co_await exchange(**conn, ask, 1);
    beast::error_code ec;
    (*conn)->stream.socket().close(ec);
    if (!replies) {
      why += (why.empty() ? "" : "; ") + replies.error().message;
      continue;
    }
    auto addr = parse_master_address(replies->front());
    if (!addr) {
      const Reply& r = replies->front();
      why += (why.empty() ? "" : "; ") + std::string("sentinel ") + s.str() +
             (r.is_error() ? ": " + r.str : " does not know master " + name);
      continue;
    }
    first_sentinel_ = index;
    co_return *addr;
  }
  co_return Error(Errc::unavailable, "no Sentinel named a master for " + name + " (" + why + ")");
}

awaitable<Result<std::vector<tcp::endpoint>>> Client::resolve(const HostPort& server) {
  beast::error_code ec;
  auto address = asio::ip::make_address(server.host, ec);
  if (!ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, server.port)};
  // A name: resolved on Asio's resolver thread, cancelled if it takes too long. The
  // timer's handler holds the resolver so that a late expiry never outlives it.
  auto resolver = std::make_shared<tcp::resolver>(ioc_);
  asio::steady_timer timer(ioc_);
  timer.expires_after(opts_.timeout);
  timer.async_wait([resolver](const beast::error_code& e) {
    if (!e) resolver->cancel();
  });
  auto results = co_await resolver->async_resolve(server.host, std::to_string(server.port),
                                                  asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  if (ec) co_return io_failure(server, "resolve", ec, opts_.timeout);
  std::vector<tcp::endpoint> out;
  for (const auto& r : results) out.push_back(r.endpoint());
  if (out.empty()) co_return Error(Errc::unavailable, "redis " + server.str() + ": no address");
  co_return out;
}

awaitable<Result<Client::ConnPtr>> Client::connect_to(const HostPort& server) {
  auto endpoints = co_await resolve(server);
  if (!endpoints) {
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    co_return endpoints.error();
  }
  auto c = std::make_shared<Conn>(ioc_);
  c->server = server;
  c->stream.expires_after(opts_.timeout);
  beast::error_code ec;
  co_await c->stream.async_connect(*endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    co_return io_failure(server, "connect", ec, opts_.timeout);
  }
  c->stream.expires_never();
  c->stream.socket().set_option(tcp::no_delay(true), ec);
  stats_.connects.fetch_add(1, std::memory_order_relaxed);
  co_return c;
}

awaitable<Result<std::vector<Reply>>> Client::exchange(Conn& conn, const std::string& payload,
                                                       size_t count) {
  // One deadline for the write and every read: the whole round trip.
  conn.stream.expires_after(opts_.timeout);
  beast::error_code ec;
  co_await asio::async_write(conn.stream, asio::buffer(payload),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return io_failure(conn.server, "send", ec, opts_.timeout);
  std::vector<Reply> out;
  out.reserve(count);
  size_t received = 0;
  while (out.size() < count) {
    auto next = conn.reader.next();
    if (!next) {
      beast::error_code ignored;
      conn.stream.socket().close(ignored);
      co_return Error(Errc::unavailable,
                      "redis " + conn.server.str() + ": " + next.error().message);
    }
    if (*next) {
      out.push_back(std::move(**next));
      continue;
    }
    size_t n = co_await conn.stream.async_read_some(asio::buffer(conn.buf),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return io_failure(conn.server, "read", ec, opts_.timeout);
    received += n;
    if (received > kMaxReplyBytes) {
      beast::error_code ignored;
      conn.stream.socket().close(ignored);
      co_return Error(Errc::unavailable, "redis " + conn.server.str() + ": answer over " +
                                             std::to_string(kMaxReplyBytes >> 20) + " MiB");
    }
    if (auto fed = conn.reader.feed(conn.buf.data(), n); !fed) {
      beast::error_code ignored;
      conn.stream.socket().close(ignored);
      co_return Error(Errc::unavailable, "redis " + conn.server.str() + ": " + fed.error().message);
    }
  }
  conn.stream.expires_never();
  co_return out;
}

void Client::note_failure(const Error& e) {
  if (down_) return;
  down_ = true;
  log::warn("redis peer store unavailable", {{"store", opts_.target.str()}, {"error", e.message}});
}

void Client::note_success() {
  if (!down_) return;
  down_ = false;
  log::info("redis peer store available again", {{"store", opts_.target.str()}});
}

}  // namespace shoal::tracker::redis
