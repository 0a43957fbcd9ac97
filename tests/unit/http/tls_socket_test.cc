// The server's TlsSocket against Asio's own TLS client (a second implementation of the
// protocol) over loopback, all in one io_context: handshake and ALPN, large writes in
// both directions at once, Beast reading and writing through it, and every way a
// connection can end.
#include "http/tls_socket.h"

#include <gtest/gtest.h>

#include <numeric>
#include <optional>

#include "core/tls/self_signed.h"
#include "http/alpn.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::http::detail {
namespace {

using ClientStream = asio::ssl::stream<tcp::socket>;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 131 + seed + (i >> 12));
  return v;
}

class TlsSocketTest : public ::testing::Test {
 protected:
  TlsSocketTest() : server_ctx_(asio::ssl::context::tls_server), client_ctx_(asio::ssl::context::tls_client) {
    auto cert = dir_.path() / "cert.pem";
    auto key = dir_.path() / "key.pem";
    auto written = write_self_signed_cert(cert, key, {"localhost"}, {}, std::chrono::hours(1));
    EXPECT_TRUE(static_cast<bool>(written));
    server_ctx_.use_certificate_chain_file(cert.string());
    server_ctx_.use_private_key_file(key.string(), asio::ssl::context::pem);
    enable_alpn(server_ctx_.native_handle(), true);
    client_ctx_.set_verify_mode(asio::ssl::verify_none);
    static const unsigned char kAlpn[] = "\x02h2";
    SSL_CTX_set_alpn_protos(client_ctx_.native_handle(), kAlpn, 3);
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::address_v4::loopback(), 0});
    acceptor_.listen();
  }

  // Connects a client and accepts its connection as a TlsSocket; both still need the
  // handshake.
  std::pair<TlsSocket, ClientStream> connect() {
    ClientStream client(ioc_, client_ctx_);
    client.next_layer().connect(acceptor_.local_endpoint());
    tcp::socket accepted = acceptor_.accept();
    return {TlsSocket(beast::tcp_stream(std::move(accepted)), server_ctx_), std::move(client)};
  }

  // Runs both handshakes to the end; returns the server's outcome.
  beast::error_code handshake(TlsSocket& server, ClientStream& client) {
    beast::error_code server_ec, client_ec;
    asio::co_spawn(ioc_, server.handshake(server_ec), asio::detached);
    client.async_handshake(asio::ssl::stream_base::client,
                           [&](beast::error_code ec) { client_ec = ec; });
    run();
    EXPECT_FALSE(client_ec) << client_ec.message();
    return server_ec;
  }

  // Starts one read on the server; ec tells how it ended once run() returns.
  void read_once(TlsSocket& server, beast::error_code& ec) {
    asio::co_spawn(
        ioc_,
        [s = &server, e = &ec]() -> awaitable<void> {
          std::vector<uint8_t> buf(100);
          co_await s->read_some(asio::buffer(buf), *e);
        },
        asio::detached);
  }

  void run() {
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(20));
    ASSERT_TRUE(ioc_.stopped()) << "the exchange did not finish";
  }

  test::TempDir dir_;
  asio::io_context ioc_;
  asio::ssl::context server_ctx_;
  asio::ssl::context client_ctx_;
  tcp::acceptor acceptor_{ioc_};
};

TEST_F(TlsSocketTest, HandshakesAndNegotiatesH2) {
  auto [server, client] = connect();
  EXPECT_FALSE(handshake(server, client));
  EXPECT_TRUE(negotiated_h2(server.native_handle()));
}

TEST_F(TlsSocketTest, CarriesLargeTransfersBothWaysAtOnce) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  const auto down = pattern(4 << 20, 1);
  const auto up = pattern(3 << 20, 2);
  std::vector<uint8_t> got_up;
  std::vector<uint8_t> got_down(down.size());
  beast::error_code read_ec, write_ec, client_read_ec, client_write_ec;

  // The server reads and writes at once, as an HTTP/2 connection does.
  asio::co_spawn(
      ioc_,
      [&]() -> awaitable<void> {
        std::vector<uint8_t> buf(16 * 1024);
        while (got_up.size() < up.size()) {
          size_t n = co_await server.read_some(asio::buffer(buf), read_ec);
          if (read_ec) co_return;
          got_up.insert(got_up.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n));
        }
      },
      asio::detached);
  asio::co_spawn(
      ioc_,
      [&]() -> awaitable<void> {
        // Uneven parts, each a separate call: records must leave in order.
        size_t at = 0;
        for (size_t part : {size_t{1}, size_t{100000}, size_t{1} << 20}) {
          const asio::const_buffer b = asio::buffer(down.data() + at, part);
          co_await server.write({&b, 1}, write_ec);
          at += part;
        }
        const asio::const_buffer rest = asio::buffer(down.data() + at, down.size() - at);
        co_await server.write({&rest, 1}, write_ec);
      },
      asio::detached);
  asio::async_write(client, asio::buffer(up),
                    [&](beast::error_code ec, size_t) { client_write_ec = ec; });
  asio::async_read(client, asio::buffer(got_down),
                   [&](beast::error_code ec, size_t) { client_read_ec = ec; });
  run();
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_FALSE(client_read_ec) << client_read_ec.message();
  EXPECT_FALSE(client_write_ec) << client_write_ec.message();
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
}

TEST_F(TlsSocketTest, EncryptedBatchesWaitForOneFlush) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  const auto body = pattern(300 * 1024, 5);
  beast::error_code ec;
  size_t queued_before_flush = 0;
  asio::co_spawn(
      ioc_,
      [&]() -> awaitable<void> {
        for (size_t at = 0; at < body.size() && !ec; at += 64 * 1024) {
          size_t n = std::min<size_t>(64 * 1024, body.size() - at);
          server.encrypt(std::span<const uint8_t>(body.data() + at, n), ec);
        }
        queued_before_flush = server.unsent();
        co_await server.flush(ec);
      },
      asio::detached);
  std::vector<uint8_t> got(body.size());
  beast::error_code client_ec;
  asio::async_read(client, asio::buffer(got),
                   [&](beast::error_code e, size_t) { client_ec = e; });
  run();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(client_ec) << client_ec.message();
  // Every record was still here before the flush: plaintext plus record overhead.
  EXPECT_GE(queued_before_flush, body.size());
  EXPECT_EQ(server.unsent(), 0u);
  EXPECT_TRUE(got == body);
}

TEST_F(TlsSocketTest, AnIdleConnectionGivesBackWhatALargeWriteGrew) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  const auto body = pattern(1 << 20, 6);
  beast::error_code ec;
  size_t grown = 0;
  asio::co_spawn(
      ioc_,
      [&]() -> awaitable<void> {
        const asio::const_buffer b = asio::buffer(body);
        co_await server.write({&b, 1}, ec);
        grown = server.buffer_capacity();
        server.release_buffers();
      },
      asio::detached);
  std::vector<uint8_t> got(body.size());
  asio::async_read(client, asio::buffer(got), [](beast::error_code, size_t) {});
  run();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GE(grown, 256u * 1024);
  EXPECT_LE(server.buffer_capacity(), 64u * 1024);
  EXPECT_TRUE(got == body);
}

TEST_F(TlsSocketTest, BeastReadsAndWritesThroughIt) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  const auto body = pattern(1 << 20, 3);
  bhttp::request<bhttp::string_body> seen;
  beast::error_code server_ec;
  asio::co_spawn(
      ioc_,
      [&]() -> awaitable<void> {
        beast::flat_buffer buf;
        co_await bhttp::async_read(server, buf, seen,
                                   asio::redirect_error(asio::use_awaitable, server_ec));
        if (server_ec) co_return;
        std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\n\r\n";
        std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(body)};
        co_await asio::async_write(server, parts,
                                   asio::redirect_error(asio::use_awaitable, server_ec));
      },
      asio::detached);
  std::string request = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  bhttp::response<bhttp::vector_body<uint8_t>> res;
  beast::flat_buffer cbuf;
  beast::error_code client_ec;
  asio::async_write(client, asio::buffer(request), [&](beast::error_code ec, size_t) {
    if (ec) {
      client_ec = ec;
      return;
    }
    bhttp::async_read(client, cbuf, res, [&](beast::error_code e, size_t) { client_ec = e; });
  });
  run();
  EXPECT_FALSE(server_ec) << server_ec.message();
  EXPECT_FALSE(client_ec) << client_ec.message();
  EXPECT_EQ(seen.target(), "/x");
  EXPECT_EQ(seen.body(), "hello");
  EXPECT_TRUE(res.body() == body);
}

TEST_F(TlsSocketTest, ClientCloseNotifyReadsAsEof) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  beast::error_code ec;
  read_once(server, ec);
  client.async_shutdown([](beast::error_code) {});
  // The client waits for our close_notify, which this test never sends: end it.
  asio::steady_timer stop(ioc_, std::chrono::milliseconds(300));
  stop.async_wait([&](beast::error_code) { client.next_layer().close(); });
  run();
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

TEST_F(TlsSocketTest, TcpEndWithoutCloseNotifyIsTruncation) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  client.next_layer().shutdown(tcp::socket::shutdown_send);
  beast::error_code ec;
  read_once(server, ec);
  run();
  EXPECT_EQ(ec, asio::ssl::error::stream_truncated) << ec.message();
}

TEST_F(TlsSocketTest, ServerShutdownSendsCloseNotify) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  beast::error_code server_ec, client_ec;
  asio::co_spawn(ioc_, server.shutdown(server_ec), asio::detached);
  std::array<char, 10> buf{};
  client.async_read_some(asio::buffer(buf), [&](beast::error_code ec, size_t) { client_ec = ec; });
  run();
  EXPECT_FALSE(server_ec) << server_ec.message();
  EXPECT_EQ(client_ec, asio::error::eof) << client_ec.message();
}

TEST_F(TlsSocketTest, GarbageInsteadOfAClientHelloFailsTheHandshake) {
  auto [server, client] = connect();
  std::string junk(3000, 'G');
  asio::write(client.next_layer(), asio::buffer(junk));
  beast::error_code ec;
  asio::co_spawn(ioc_, server.handshake(ec), asio::detached);
  run();
  EXPECT_TRUE(ec);
  EXPECT_EQ(ec.category(), asio::error::get_ssl_category()) << ec.message();
}

TEST_F(TlsSocketTest, GarbageAfterTheHandshakeFailsTheRead) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  std::string junk(100, '\x17');  // a record header claiming application data, then junk
  asio::write(client.next_layer(), asio::buffer(junk));
  beast::error_code ec;
  read_once(server, ec);
  run();
  EXPECT_TRUE(ec);
}

TEST_F(TlsSocketTest, AWriteToAClosedPeerFails) {
  auto [server, client] = connect();
  ASSERT_FALSE(handshake(server, client));
  client.next_layer().close();
  const auto big = pattern(8 << 20, 4);
  beast::error_code ec;
  asio::co_spawn(
      ioc_,
      [&]() -> awaitable<void> {
        const asio::const_buffer b = asio::buffer(big);
        co_await server.write({&b, 1}, ec);
      },
      asio::detached);
  run();
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace shoal::http::detail
