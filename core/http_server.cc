#include "core/http_server.h"

#include <csignal>
#include <stdexcept>

#include "core/http_connection.h"
#include "core/http_util.h"
#include "core/log.h"

namespace shoal::http {

Exchange::Exchange(RequestHead req, std::string remote)
    : req_(std::move(req)), remote_(std::move(remote)) {
  std::string_view target(req_.target().data(), req_.target().size());
  size_t q = target.find('?');
  path_ = std::string(target.substr(0, q));
  if (q != std::string_view::npos) query_ = std::string(target.substr(q + 1));
}

std::optional<std::string> Exchange::query_param(std::string_view name) const {
  return find_query_param(query_, name);
}

std::string_view Exchange::header(bhttp::field f) const {
  auto it = req_.find(f);
  if (it == req_.end()) return {};
  return {it->value().data(), it->value().size()};
}

bool Exchange::has_body() const {
  return content_length_.value_or(0) > 0 || chunked_;
}

awaitable<void> Exchange::respond_json(bhttp::status status, std::string json) {
  Head head;
  head.result(status);
  head.set(bhttp::field::content_type, "application/json");
  co_await respond(std::move(head), json);
}

awaitable<void> Exchange::respond_error(bhttp::status status, std::string_view code,
                                        std::string_view message) {
  co_await respond_json(status, error_json(code, message));
}

asio::thread_pool& blocking_pool() {
  static asio::thread_pool pool(4);
  return pool;
}

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
  return ctx;
}

tcp::endpoint resolve_listen(const ServerOptions& o) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
  if (ec) throw std::runtime_error("listen address \"" + o.host + "\" is not an IP address");
  return {addr, o.port};
}

}  // namespace

Server::Server(ServerOptions opts, Handler handler)
    : opts_(std::move(opts)), handler_(std::move(handler)), tls_(make_tls(opts_)), acceptor_(ioc_) {
  auto ep = resolve_listen(opts_);
  beast::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) +
                             ": " + ec.message());
  }
}

Server::~Server() { stop(); }

tcp::endpoint Server::local_endpoint() const { return acceptor_.local_endpoint(); }

std::string Server::url() const {
  auto ep = local_endpoint();
  std::string host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                          : ep.address().to_string();
  return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(ep.port());
}

awaitable<void> Server::accept_loop() {
  detail::ConnectionContext ctx{opts_, handler_};
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(
        asio::make_strand(ioc_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(ioc_, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto ex = socket.get_executor();
    if (tls_) {
      asio::co_spawn(ex, detail::serve_tls(std::move(socket), *tls_, ctx), asio::detached);
    } else {
      asio::co_spawn(ex, detail::serve_plain(std::move(socket), ctx), asio::detached);
    }
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
  asio::co_spawn(ioc_, accept_loop(), asio::detached);
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
  });
  ioc_.stop();
}

}  // namespace shoal::http
