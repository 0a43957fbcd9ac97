// h3::Client against an independent HTTP/3 server: Debian's gtlsserver (ngtcp2's
// example server, package ngtcp2-server) serving a temporary directory over QUIC on
// loopback. Skipped when gtlsserver is not installed.
#include "http/h3/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "core/tls/self_signed.h"
#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/require_tool.h"

namespace shoal::http::h3 {
namespace {

constexpr size_t kBigSize = 64 * 1024 * 1024;

// Debian installs it in /usr/sbin, which is not on every user's PATH.
const char* server_binary() {
  for (const char* p : {"/usr/sbin/gtlsserver", "/usr/bin/gtlsserver"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return nullptr;
}
// A UDP port nobody listens on right now (the kernel's pick, released again).
uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string write_random_file(const std::filesystem::path& path, size_t size) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(42);
  Sha256 hash;
  std::vector<uint64_t> block(1 << 16);
  for (size_t done = 0; done < size;) {
    for (auto& w : block) w = rng();
    size_t n = std::min(size - done, block.size() * sizeof(uint64_t));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    hash.update(block.data(), n);
    done += n;
  }
  return hash.finish().hex();
}

// What a sink received: length and hash, never the bytes themselves.
struct Received {
  size_t bytes = 0;
  size_t chunks = 0;
  Sha256 hash;
  BodySink sink() {
    return [this](const char* data, size_t len) -> Result<void> {
      bytes += len;
      ++chunks;
      hash.update(data, len);
      return {};
    };
  }
};

class H3ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!server_binary()) return;
    dir_ = new test::TempDir();
    auto docs = dir_->path() / "htdocs";
    std::filesystem::create_directory(docs);
    ASSERT_TRUE(write_self_signed_cert(cert(), dir_->path() / "key.pem", {"localhost"},
                                       {"127.0.0.1"}, std::chrono::hours(24)));
    small_sha_ = write_random_file(docs / "small.bin", 1024);
    big_sha_ = write_random_file(docs / "big.bin", kBigSize);
    port_ = free_udp_port();
    pid_ = start_server(port_, "server.log");
    wait_until_up(port_);
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!server_binary()) {
      // A missing tool fails under CI=true (tests/unit/support/require_tool.h).
      if (test::in_ci()) GTEST_FAIL() << "CI=true and gtlsserver (ngtcp2-server) is missing";
      GTEST_SKIP() << "gtlsserver not installed (apt-get install ngtcp2-server)";
    }
    ASSERT_GT(pid_, 0);
  }

  static std::filesystem::path cert() { return dir_->path() / "cert.pem"; }

  // `extra` goes to gtlsserver before the positional arguments (--timeout, loss).
  static pid_t start_server(uint16_t port, const std::string& log_name,
                            std::vector<std::string> extra = {}) {
    std::string log = (dir_->path() / log_name).string();
    std::vector<std::string> args = {server_binary(), "-q", "-d",
                                     (dir_->path() / "htdocs").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    for (auto a : {std::string("127.0.0.1"), std::to_string(port),
                   (dir_->path() / "key.pem").string(), cert().string()}) {
      args.push_back(a);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }

  static void stop_server(pid_t pid) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }

  // gtlsserver has no readiness signal: poll with small requests.
  static void wait_until_up(uint16_t port) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up) {
      Client c(url("127.0.0.1", port), insecure(std::chrono::milliseconds(300)));
      Received r;
      if (c.download("/small.bin", {}, r.sink())) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "gtlsserver did not come up on UDP port " << port;
  }

  static Url url(const std::string& host = "127.0.0.1", uint16_t port = 0) {
    return *Url::parse("https://" + host + ":" + std::to_string(port ? port : port_));
  }
  static ClientOptions insecure(std::chrono::milliseconds connect = std::chrono::seconds(5)) {
    ClientOptions o;
    o.verify_tls = false;
    o.connect_timeout = connect;
    o.io_timeout = std::chrono::seconds(20);
    return o;
  }
  static ClientOptions trusting_test_cert() {
    ClientOptions o = insecure();
    o.verify_tls = true;
    o.ca_file = cert().string();
    return o;
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline pid_t pid_ = -1;
  static inline uint16_t port_ = 0;
  static inline std::string small_sha_, big_sha_;
};

TEST_F(H3ClientTest, DownloadsSmallFileAndReusesTheConnection) {
  Client c(url(), insecure());
  for (int i = 0; i < 3; ++i) {
    Received r;
    Response head_seen;
    auto res = c.download("/small.bin", {{"Accept", "*/*"}}, r.sink(),
                          [&](const Response& h) -> Result<void> {
                            head_seen = h;
                            return {};
                          });
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200u);
    EXPECT_TRUE(res->body.empty());
    EXPECT_EQ(head_seen.status, 200u);
    EXPECT_EQ(res->header("content-length"), "1024");
    EXPECT_EQ(r.bytes, 1024u);
    EXPECT_EQ(r.hash.finish().hex(), small_sha_);
  }
}

TEST_F(H3ClientTest, StreamsA64MiBFileToTheSink) {
  Client c(url(), insecure());
  Received r;
  auto start = std::chrono::steady_clock::now();
  auto res = c.download("/big.bin", {}, r.sink());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(r.bytes, kBigSize);
  EXPECT_EQ(r.hash.finish().hex(), big_sha_);
  std::printf("64 MiB over HTTP/3 in %lld ms (%zu sink calls)\n", static_cast<long long>(ms),
              r.chunks);
}

TEST_F(H3ClientTest, MissingFileIsA404WithItsBodyInTheResponse) {
  Client c(url(), insecure());
  Received r;
  auto res = c.download("/nope.bin", {}, r.sink());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 404u);
  EXPECT_FALSE(res->success());
  EXPECT_EQ(r.bytes, 0u);  // the sink only sees 2xx bodies
  EXPECT_NE(res->body.find("404"), std::string::npos) << res->body;
  // The connection stays usable after an error status.
  auto again = c.download("/small.bin", {}, r.sink());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(r.bytes, 1024u);
}

TEST_F(H3ClientTest, SinkErrorCancelsOnlyThatRequest) {
  Client c(url(), insecure());
  size_t seen = 0;
  auto res = c.download("/big.bin", {}, [&](const char*, size_t len) -> Result<void> {
    seen += len;
    if (seen > 1024 * 1024) return Error(Errc::disk_full, "disk full");
    return {};
  });
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().is(Errc::disk_full)) << res.error().message;
  Received r;
  auto again = c.download("/small.bin", {}, r.sink());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(r.hash.finish().hex(), small_sha_);
}

TEST_F(H3ClientTest, HeadHookErrorStopsBeforeTheBody) {
  Client c(url(), insecure());
  Received r;
  auto res = c.download("/big.bin", {}, r.sink(), [](const Response&) -> Result<void> {
    return Error(Errc::conflict, "not wanted");
  });
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().is(Errc::conflict));
  EXPECT_EQ(r.bytes, 0u);
}

TEST_F(H3ClientTest, UnreachablePortFailsWithinTheConnectTimeout) {
  ClientOptions o = insecure(std::chrono::milliseconds(1500));
  Client c(*Url::parse("https://127.0.0.1:" + std::to_string(free_udp_port())), o);
  Received r;
  auto start = std::chrono::steady_clock::now();
  auto res = c.download("/small.bin", {}, r.sink());
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().is(Errc::unavailable) || res.error().is(Errc::timed_out))
      << res.error().message;
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

TEST_F(H3ClientTest, SilentServerTimesOut) {
  // A bound UDP socket that never answers: no ICMP error, only the timeout.
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  Client c(*Url::parse("https://127.0.0.1:" + std::to_string(ntohs(a.sin_port))),
           insecure(std::chrono::milliseconds(700)));
  Received r;
  auto start = std::chrono::steady_clock::now();
  auto res = c.download("/small.bin", {}, r.sink());
  auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().is(Errc::timed_out)) << res.error().message;
  EXPECT_GE(took, std::chrono::milliseconds(600));
  EXPECT_LT(took, std::chrono::milliseconds(1700));
}

TEST_F(H3ClientTest, VerifiesTheCertificate) {
  ClientOptions system_trust = insecure();
  system_trust.verify_tls = true;
  Received r;
  auto untrusted = Client(url(), system_trust).download("/small.bin", {}, r.sink());
  ASSERT_FALSE(untrusted);
  EXPECT_TRUE(untrusted.error().is(Errc::unavailable)) << untrusted.error().message;
  EXPECT_NE(untrusted.error().message.find("certificate"), std::string::npos)
      << untrusted.error().message;

  for (std::string host : {"127.0.0.1", "localhost"}) {
    Received ok_r;
    auto trusted = Client(url(host), trusting_test_cert()).download("/small.bin", {}, ok_r.sink());
    ASSERT_TRUE(trusted) << host << ": " << trusted.error().message;
    EXPECT_EQ(ok_r.bytes, 1024u);
  }
}

TEST_F(H3ClientTest, PlainHttpUrlIsRefused) {
  Client c(*Url::parse("http://127.0.0.1:" + std::to_string(port_)), insecure());
  Received r;
  auto res = c.download("/small.bin", {}, r.sink());
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().is(Errc::bad_request));
}

TEST_F(H3ClientTest, CloseThenReconnect) {
  Client c(url(), insecure());
  Received r;
  ASSERT_TRUE(c.download("/small.bin", {}, r.sink()));
  c.close();
  ASSERT_TRUE(c.download("/small.bin", {}, r.sink()));
  EXPECT_EQ(r.bytes, 2048u);
}

// The server forgets an idle connection silently; the client must not send the next
// request into it.
TEST_F(H3ClientTest, ReconnectsAfterTheServerIdleClosed) {
  uint16_t port = free_udp_port();
  pid_t pid = start_server(port, "idle.log", {"--timeout=1s"});
  wait_until_up(port);
  Client c(url("127.0.0.1", port), insecure());
  Received r;
  ASSERT_TRUE(c.download("/small.bin", {}, r.sink()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto start = std::chrono::steady_clock::now();
  auto res = c.download("/small.bin", {}, r.sink());
  auto took = std::chrono::steady_clock::now() - start;
  stop_server(pid);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(r.bytes, 2048u);
  EXPECT_LT(took, std::chrono::milliseconds(500));
}

// A restarted server has no state for the old connection and stays silent: one
// retry on a fresh connection, after a short wait rather than the whole io_timeout.
TEST_F(H3ClientTest, RetriesOnceWhenTheServerRestarted) {
  uint16_t port = free_udp_port();
  pid_t pid = start_server(port, "restart1.log");
  wait_until_up(port);
  Client c(url("127.0.0.1", port), insecure());
  Received r;
  ASSERT_TRUE(c.download("/small.bin", {}, r.sink()));
  stop_server(pid);
  pid = start_server(port, "restart2.log");
  wait_until_up(port);
  auto start = std::chrono::steady_clock::now();
  auto res = c.download("/small.bin", {}, r.sink());
  auto took = std::chrono::steady_clock::now() - start;
  stop_server(pid);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(r.bytes, 2048u);
  EXPECT_LT(took, std::chrono::seconds(3));
}

// 2% loss each way: loss recovery and flow control must still deliver every byte.
TEST_F(H3ClientTest, StreamsThroughPacketLoss) {
  uint16_t port = free_udp_port();
  pid_t pid = start_server(port, "loss.log", {"--tx-loss=0.02", "--rx-loss=0.02"});
  wait_until_up(port);
  Client c(url("127.0.0.1", port), insecure());
  Received r;
  auto res = c.download("/big.bin", {}, r.sink());
  stop_server(pid);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(r.bytes, kBigSize);
  EXPECT_EQ(r.hash.finish().hex(), big_sha_);
}

}  // namespace
}  // namespace shoal::http::h3
