#include "http/server.h"

#include <csignal>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "http/alpn.h"
#include "http/h3/endpoint.h"
#include "http/h1/connection.h"
#include "http/offload.h"
#include "http/util.h"
#include "core/log.h"

namespace shoal::http {

namespace {

std::unique_ptr<asio::ssl::context> make_tls(const ServerOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return nullptr;
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    throw std::runtime_error("TLS needs both tls_cert and tls_key");
  }
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) throw std::runtime_error("cannot load tls_cert " + o.tls_cert_file + ": " + ec.message());
  ctx->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot load tls_key " + o.tls_key_file + ": " + ec.message());
  enable_alpn(ctx->native_handle(), o.http2);
  return ctx;
}

void listen_on(tcp::acceptor& acceptor, const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("listen address \"" + host + "\" is not an IP address");
  tcp::endpoint ep{addr, port};
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             ec.message());
  }
}

std::string url_of(const tcp::endpoint& ep, bool tls) {
  std::string host =
      ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(ep.port());
}

}  // namespace

// Open connections in total and per remote address, shared by the accept loops and
// released by each connection's coroutine when it ends (on whichever thread).
struct Server::ConnectionLimits {
  std::mutex mu;
  uint32_t total = 0;
  std::unordered_map<std::string, uint32_t> per_client;
};

namespace {

class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::function<void()> release) : release_(std::move(release)) {}
  ConnectionSlot(ConnectionSlot&& o) noexcept : release_(std::exchange(o.release_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (release_) release_();
  }

 private:
  std::function<void()> release_;
};

// The slot lives in this coroutine's frame: released when the connection ends.
awaitable<void> hold_slot([[maybe_unused]] ConnectionSlot slot, awaitable<void> connection) {
  co_await std::move(connection);
}

}  // namespace

Server::Server(ServerOptions opts, Handler handler)
    : opts_(std::move(opts)),
      handler_(std::move(handler)),
      tls_(make_tls(opts_)),
      acceptor_(ioc_),
      limits_(std::make_shared<ConnectionLimits>()) {
  listen_on(acceptor_, opts_.host, opts_.port);
  if (!opts_.plain_host.empty()) {
    plain_acceptor_ = std::make_unique<tcp::acceptor>(ioc_);
    listen_on(*plain_acceptor_, opts_.plain_host, opts_.plain_port);
  }
  if (tls_ && opts_.http3) {
    uint16_t port = acceptor_.local_endpoint().port();
    alt_svc_ = "h3=\":" + std::to_string(port) + "\"; ma=86400";
    h3_ = std::make_unique<detail::H3Endpoint>(
        ioc_, detail::ConnectionContext{opts_, handler_, alt_svc_}, opts_.host, port);
  }
}

Server::~Server() {
  stop();
  h3_.reset();  // its connections' timers and sockets belong to ioc_
}

std::optional<uint16_t> Server::h3_port() const {
  if (!h3_) return std::nullopt;
  return h3_->local_endpoint().port();
}

void Server::export_metrics(metrics::Registry& registry) const {
  if (!h3_) return;
  auto stats = h3_->stats();  // shared: the registry may outlive the endpoint
  auto read = [stats](std::atomic<uint64_t> detail::H3Stats::*field) {
    return [stats, field] { return double(((*stats).*field).load(std::memory_order_relaxed)); };
  };
  using S = detail::H3Stats;
  registry.counter_fn("shoal_http3_datagrams_received_total", "UDP datagrams read by HTTP/3.",
                      read(&S::datagrams_received));
  registry.counter_fn("shoal_http3_datagrams_sent_total", "UDP datagrams sent by HTTP/3.",
                      read(&S::datagrams_sent));
  registry.counter_fn("shoal_http3_send_calls_total",
                      "sendmsg calls of HTTP/3 (one carries a GSO burst of datagrams).",
                      read(&S::send_calls));
  registry.counter_fn("shoal_http3_timer_wakeups_total", "QUIC connection timers that fired.",
                      read(&S::timer_wakeups));
  registry.counter_fn("shoal_http3_connections_refused_total",
                      "QUIC connections refused by max_connections(_per_client).",
                      read(&S::connections_refused));
  registry.gauge_fn("shoal_http3_connections", "Open QUIC connections.", read(&S::connections));
}

tcp::endpoint Server::local_endpoint() const { return acceptor_.local_endpoint(); }

std::string Server::url() const { return url_of(local_endpoint(), tls_ != nullptr); }

std::optional<tcp::endpoint> Server::plain_endpoint() const {
  if (!plain_acceptor_) return std::nullopt;
  return plain_acceptor_->local_endpoint();
}

std::string Server::plain_url() const {
  auto ep = plain_endpoint();
  return ep ? url_of(*ep, false) : std::string();
}

void Server::spawn_connection(tcp::socket socket, bool tls) {
  beast::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  std::string ip = remote.address().to_string();
  {
    std::lock_guard lock(limits_->mu);
    uint32_t& mine = limits_->per_client[ip];
    bool over = (opts_.max_connections && limits_->total >= opts_.max_connections) ||
                (opts_.max_connections_per_client && mine >= opts_.max_connections_per_client);
    if (over) {
      if (mine == 0) limits_->per_client.erase(ip);
      log::debug("connection refused: over the limit", {{"remote", ip}});
      return;  // the socket closes as it goes out of scope
    }
    ++mine;
    ++limits_->total;
  }
  auto limits = limits_;
  ConnectionSlot slot([limits, ip] {
    std::lock_guard lock(limits->mu);
    --limits->total;
    auto it = limits->per_client.find(ip);
    if (it != limits->per_client.end() && --it->second == 0) limits->per_client.erase(it);
  });
  // Alt-Svc only where it is true: the TLS listener's clients can reach HTTP/3.
  detail::ConnectionContext ctx{opts_, handler_,
                                tls ? std::string_view(alt_svc_) : std::string_view()};
  auto ex = socket.get_executor();
  if (tls) {
    asio::co_spawn(ex, hold_slot(std::move(slot), detail::serve_tls(std::move(socket), *tls_, ctx)),
                   asio::detached);
  } else {
    asio::co_spawn(ex, hold_slot(std::move(slot), detail::serve_plain(std::move(socket), ctx)),
                   asio::detached);
  }
}

awaitable<void> Server::accept_loop(tcp::acceptor& acceptor, bool tls) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(
        asio::make_strand(ioc_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(ioc_, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    spawn_connection(std::move(socket), tls);
  }
}

void Server::every(std::chrono::milliseconds interval, std::function<void()> fn) {
  auto loop = [](asio::io_context& ioc, std::chrono::milliseconds every,
                 std::function<void()> job) -> awaitable<void> {
    asio::steady_timer timer(ioc);
    for (;;) {
      timer.expires_after(every);
      beast::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      job();
    }
  };
  asio::co_spawn(ioc_, loop(ioc_, interval, std::move(fn)), asio::detached);
}

void Server::run() {
  asio::signal_set signals(ioc_, SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int sig) {
    if (ec) return;
    log::info("stopping", {{"signal", sig}});
    stop();
  });
  asio::co_spawn(ioc_, accept_loop(acceptor_, tls_ != nullptr), asio::detached);
  if (plain_acceptor_) asio::co_spawn(ioc_, accept_loop(*plain_acceptor_, false), asio::detached);
  if (h3_) h3_->start();
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < opts_.threads; ++i) extra.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : extra) t.join();
  // Work on the blocking pool resumes coroutines of this io_context when it ends: let
  // it finish while the io_context (and its strands) still exist.
  blocking_pool().join();
}

void Server::stop() {
  asio::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    if (plain_acceptor_) plain_acceptor_->close(ec);
  });
  if (h3_) h3_->stop();
  ioc_.stop();
}

}  // namespace shoal::http
