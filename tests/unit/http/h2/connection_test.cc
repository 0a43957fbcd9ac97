// HTTP/2 end to end inside one process: a real http::Server on TLS and a blocking
// OpenSSL + nghttp2 client, for what needs the Asio driver (handler limits, timeouts,
// back-pressure on a client that stops reading).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

#include "http/server.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void write_cert(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", const_cast<char*>("P-256"));
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

struct Reply {
  std::map<std::string, std::string> headers;
  std::string body;
  bool closed = false;
  uint32_t error = 0;
};

// A blocking TLS client speaking HTTP/2 through an nghttp2 client session.
class Client {
 public:
  explicit Client(uint16_t port, int32_t window = 1 << 30, bool manual_window = false) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    static const unsigned char kAlpn[] = "\x02h2";
    SSL_CTX_set_alpn_protos(ctx_, kAlpn, 3);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected = connected && SSL_connect(ssl_) == 1;
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &proto, &len);
    connected = connected && len == 2 && std::memcmp(proto, "h2", 2) == 0;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    start_session(window, manual_window);
  }
  ~Client() {
    nghttp2_session_del(ng);
    SSL_free(ssl_);
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }

  int32_t get(const std::string& path) {
    std::string m = ":method", mv = "GET", s = ":scheme", sv = "https", a = ":authority",
                av = "localhost", p = ":path";
    nghttp2_nv nva[] = {nv(m, mv), nv(s, sv), nv(a, av), nv(p, path)};
    return nghttp2_submit_request(ng, nullptr, nva, 4, nullptr, nullptr);
  }
  void reset(int32_t id) { nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }

  // Sends what is queued, then reads until pred() holds, the server closes, or the timeout.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!send_all()) return pred();
      if (pred()) return true;
      if (eof || Clock::now() >= deadline) return pred();
      if (SSL_pending(ssl_) == 0) {
        pollfd pfd{fd_, POLLIN, 0};
        ::poll(&pfd, 1, 20);
      }
      read_some();
    }
  }

  bool connected = false;
  bool eof = false;
  nghttp2_session* ng = nullptr;
  std::map<int32_t, Reply> replies;
  uint32_t goaway_error = UINT32_MAX;

 private:
  static nghttp2_nv nv(const std::string& n, const std::string& v) {
    return {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(n.data())),
            const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(v.data())), n.size(), v.size(),
            NGHTTP2_NV_FLAG_NONE};
  }

  void start_session(int32_t window, bool manual_window) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, [](nghttp2_session*,
                                                             const nghttp2_frame* f,
                                                             const uint8_t* n, size_t nl,
                                                             const uint8_t* v, size_t vl, uint8_t,
                                                             void* u) {
      self(u).replies[f->hd.stream_id].headers[std::string(reinterpret_cast<const char*>(n), nl)] =
          std::string(reinterpret_cast<const char*>(v), vl);
      return 0;
    });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len, void* u) {
          self(u).replies[id].body.append(reinterpret_cast<const char*>(d), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, int32_t id, uint32_t error, void* u) {
          self(u).replies[id].closed = true;
          self(u).replies[id].error = error;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
          if (f->hd.type == NGHTTP2_GOAWAY) self(u).goaway_error = f->goaway.error_code;
          return 0;
        });
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, manual_window ? 1 : 0);
    nghttp2_session_client_new2(&ng, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(window)}};
    nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, iv, 1);
  }
  static Client& self(void* u) { return *static_cast<Client*>(u); }

  bool send_all() {
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(ng, &data);
      if (n <= 0) return true;
      for (ssize_t off = 0; off < n;) {
        int w = SSL_write(ssl_, data + off, static_cast<int>(n - off));
        if (w > 0) {
          off += w;
          continue;
        }
        int err = SSL_get_error(ssl_, w);
        if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) {
          eof = true;
          return false;
        }
        pollfd pfd{fd_, POLLOUT, 0};
        if (::poll(&pfd, 1, 5000) <= 0) return false;
      }
    }
  }

  void read_some() {
    uint8_t buf[16384];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      nghttp2_session_mem_recv(ng, buf, static_cast<size_t>(n));
      return;
    }
    int err = SSL_get_error(ssl_, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) eof = true;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

class H2Connection : public ::testing::Test {
 protected:
  void start(Handler handler) {
    std::string cert = (dir_.path() / "cert.pem").string(),
                key = (dir_.path() / "key.pem").string();
    write_cert(cert, key);
    opts.tls_cert_file = cert;
    opts.tls_key_file = key;
    opts.threads = 1;
    server_ = std::make_unique<Server>(opts, std::move(handler));
    port = server_->local_endpoint().port();
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  ServerOptions opts;
  uint16_t port = 0;

 private:
  test::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

TEST_F(H2Connection, ServesExchangesOverTls) {
  start([](Exchange& ex) -> awaitable<void> {
    std::string text = std::string(ex.protocol()) + " " + std::string(ex.path()) + " " +
                       ex.query_param("q").value_or("-") + " " +
                       std::string(ex.header(bhttp::field::host));
    co_await ex.respond_json(bhttp::status::ok, text);
  });
  Client c(port);
  ASSERT_TRUE(c.connected);
  int32_t id = c.get("/x/y?q=1");
  ASSERT_TRUE(c.run_until([&] { return c.replies[id].closed; }, 5s));
  EXPECT_EQ(c.replies[id].headers[":status"], "200");
  EXPECT_EQ(c.replies[id].body, "h2 /x/y 1 localhost");
}

TEST_F(H2Connection, CloseConnectionSendsGoawayAfterTheResponse) {
  start([](Exchange& ex) -> awaitable<void> {
    ex.close_connection();
    co_await ex.respond_json(bhttp::status::ok, "{\"bye\":true}");
  });
  Client c(port);
  ASSERT_TRUE(c.connected);
  int32_t id = c.get("/");
  ASSERT_TRUE(c.run_until([&] { return c.eof; }, 5s));
  EXPECT_EQ(c.replies[id].headers[":status"], "200");
  EXPECT_EQ(c.replies[id].body, "{\"bye\":true}");
  EXPECT_EQ(c.goaway_error, NGHTTP2_NO_ERROR);
}

TEST_F(H2Connection, RunningHandlersNeverExceedTheStreamLimit) {
  opts.max_concurrent_streams = 10;
  opts.h2_max_resets_per_second = 100000;  // this test is about the handler cap alone
  std::atomic<int> running{0}, most{0}, started{0};
  start([&](Exchange& ex) -> awaitable<void> {
    int now_running = ++running;
    ++started;
    int seen = most.load();
    while (now_running > seen && !most.compare_exchange_weak(seen, now_running)) {
    }
    co_await sleep_for(300ms);  // keeps running after its stream is reset
    --running;
    co_await ex.respond_json(bhttp::status::ok, "{}");
  });
  Client c(port);
  ASSERT_TRUE(c.connected);
  for (int round = 0; round < 6; ++round) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(c.get("/slow"));
    if (round == 0) {
      ASSERT_TRUE(c.run_until([&] { return started.load() == 10; }, 5s));
    } else {
      c.run_until([] { return false; }, 60ms);  // the handlers start, or are refused
    }
    for (int32_t id : ids) c.reset(id);
    c.run_until([] { return false; }, 10ms);
  }
  int32_t last = c.get("/after");
  ASSERT_TRUE(c.run_until([&] { return c.replies[last].closed; }, 10s));
  EXPECT_EQ(c.replies[last].headers[":status"], "200");
  EXPECT_LE(most.load(), 10);
  EXPECT_GE(started.load(), 10);
}

TEST_F(H2Connection, IdleConnectionGetsGoawayAndCloses) {
  opts.idle_timeout = 300ms;
  start([](Exchange& ex) -> awaitable<void> { co_await ex.respond_json(bhttp::status::ok, "{}"); });
  Client c(port);
  ASSERT_TRUE(c.connected);
  int32_t id = c.get("/");
  ASSERT_TRUE(c.run_until([&] { return c.replies[id].closed; }, 5s));
  auto start_idle = Clock::now();
  EXPECT_TRUE(c.run_until([&] { return c.eof; }, 5s));
  EXPECT_EQ(c.goaway_error, NGHTTP2_NO_ERROR);
  EXPECT_LT(Clock::now() - start_idle, 3s);
}

TEST_F(H2Connection, StreamWhoseWindowStaysShutIsResetAfterReadTimeout) {
  opts.read_timeout = 500ms;
  static const std::string big(8 << 20, 'b');
  std::atomic<bool> done{false};
  std::atomic<uint64_t> sent{0};
  start([&](Exchange& ex) -> awaitable<void> {
    if (ex.path() != "/big") {
      co_await ex.respond_json(bhttp::status::ok, "{}");
      co_return;
    }
    Head head;
    head.result(bhttp::status::ok);
    co_await ex.respond(std::move(head), big);
    sent = ex.body_bytes_sent();
    done = true;
  });
  // 64 KiB window, never opened again.
  Client c(port, 64 * 1024, true);
  ASSERT_TRUE(c.connected);
  int32_t id = c.get("/big");
  ASSERT_TRUE(c.run_until([&] { return c.replies[id].closed; }, 10s));
  EXPECT_EQ(c.replies[id].error, NGHTTP2_INTERNAL_ERROR);
  EXPECT_LE(c.replies[id].body.size(), 64u * 1024);
  ASSERT_TRUE(c.run_until([&] { return done.load(); }, 5s));
  EXPECT_LT(sent.load(), big.size());
  // The connection itself is fine.
  nghttp2_session_consume_connection(c.ng, c.replies[id].body.size());
  int32_t next = c.get("/small");
  ASSERT_TRUE(c.run_until([&] { return c.replies[next].closed; }, 5s));
  EXPECT_EQ(c.replies[next].headers[":status"], "200");
}

TEST_F(H2Connection, ClientThatStopsReadingIsDisconnected) {
  opts.read_timeout = 500ms;
  static const std::string huge(64 << 20, 'h');
  std::atomic<bool> done{false};
  std::atomic<uint64_t> sent{0};
  start([&](Exchange& ex) -> awaitable<void> {
    Head head;
    head.result(bhttp::status::ok);
    co_await ex.respond(std::move(head), huge);
    sent = ex.body_bytes_sent();
    done = true;
  });
  Client c(port);
  ASSERT_TRUE(c.connected);
  c.get("/huge");
  c.run_until([] { return false; }, 50ms);  // sends the request, reads a little
  auto t0 = Clock::now();
  for (int i = 0; i < 100 && !done; ++i) std::this_thread::sleep_for(50ms);  // reads nothing
  EXPECT_TRUE(done.load());
  EXPECT_LT(Clock::now() - t0, 4s);
  EXPECT_LT(sent.load(), huge.size());
}

}  // namespace
}  // namespace shoal::http
