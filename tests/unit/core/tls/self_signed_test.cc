#include "core/tls/self_signed.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>

#include "tests/unit/support/require_tool.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;

X509Ptr load_cert(const fs::path& path) {
  std::unique_ptr<FILE, Deleter<std::fclose>> f(std::fopen(path.c_str(), "r"));
  return X509Ptr(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr);
}

PkeyPtr load_key(const fs::path& path) {
  std::unique_ptr<FILE, Deleter<std::fclose>> f(std::fopen(path.c_str(), "r"));
  return PkeyPtr(f ? PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr) : nullptr);
}

struct Command {
  std::string out;
  int status = -1;
};

// Runs a shell command (the tests cross-check against the openssl and curl tools).
Command run(const std::string& cmd) {
  Command c;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return c;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) c.out.append(buf, n);
  int st = ::pclose(p);
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return c;
}


class SelfSignedTest : public ::testing::Test {
 protected:
  fs::path cert() const { return dir_.path() / "cert.pem"; }
  fs::path key() const { return dir_.path() / "key.pem"; }

  void generate(std::vector<std::string> dns = {"localhost", "shoal.test"},
                std::vector<std::string> ips = {"127.0.0.1", "::1"},
                std::chrono::hours validity = 48h) {
    auto ok = write_self_signed_cert(cert(), key(), dns, ips, validity);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  test::TempDir dir_;
};

TEST_F(SelfSignedTest, WritesAMatchingKeyAndCertificate) {
  ASSERT_NO_FATAL_FAILURE(generate());
  auto c = load_cert(cert());
  auto k = load_key(key());
  ASSERT_TRUE(c && k);
  EXPECT_EQ(X509_check_private_key(c.get(), k.get()), 1);
  EXPECT_EQ(X509_verify(c.get(), k.get()), 1) << "signed by its own key";
  EXPECT_TRUE(EVP_PKEY_is_a(k.get(), "EC"));
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(k.get(), group, sizeof group, nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
}

TEST_F(SelfSignedTest, KeyIsPrivateAndNoTemporaryFilesRemain) {
  ASSERT_NO_FATAL_FAILURE(generate());
  struct stat st {};
  ASSERT_EQ(::stat(key().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(cert().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0022, 0u) << "certificate not writable by others";
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    ++files;
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
  }
  EXPECT_EQ(files, 2u);
}

TEST_F(SelfSignedTest, EveryNameIsInSubjectAltNameAndCnIsTheFirst) {
  ASSERT_NO_FATAL_FAILURE(generate());
  auto c = load_cert(cert());
  ASSERT_TRUE(c);
  for (const char* host : {"localhost", "shoal.test"}) {
    EXPECT_EQ(X509_check_host(c.get(), host, 0, 0, nullptr), 1) << host;
  }
  for (const char* ip : {"127.0.0.1", "::1"}) {
    EXPECT_EQ(X509_check_ip_asc(c.get(), ip, 0), 1) << ip;
  }
  EXPECT_EQ(X509_check_host(c.get(), "other.test", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(c.get(), "127.0.0.2", 0), 0);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(c.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "localhost");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(c.get()), X509_get_issuer_name(c.get())), 0);

  SHOAL_REQUIRE_TOOL("openssl", "openssl");
  auto san = run("openssl x509 -noout -ext subjectAltName -in '" + cert().string() + "'");
  ASSERT_EQ(san.status, 0);
  EXPECT_NE(san.out.find("DNS:localhost, DNS:shoal.test, IP Address:127.0.0.1, "
                         "IP Address:0:0:0:0:0:0:0:1"),
            std::string::npos)
      << san.out;
}

TEST_F(SelfSignedTest, IsAnEndEntityServerCertificate) {
  ASSERT_NO_FATAL_FAILURE(generate());
  auto c = load_cert(cert());
  ASSERT_TRUE(c);
  EXPECT_EQ(X509_get_version(c.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(c.get()), 0) << "CA:FALSE";
  EXPECT_EQ(X509_check_purpose(c.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_TRUE(X509_get_key_usage(c.get()) & KU_DIGITAL_SIGNATURE);
  EXPECT_FALSE(X509_get_key_usage(c.get()) & KU_KEY_CERT_SIGN);
  EXPECT_EQ(X509_get_extended_key_usage(c.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_NE(X509_get0_subject_key_id(c.get()), nullptr);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(c.get());
  EXPECT_EQ(ASN1_STRING_length(serial), 16) << "16 random bytes, positive";
  EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
}

TEST_F(SelfSignedTest, ValidFromAnHourAgoForTheRequestedPeriod) {
  ASSERT_NO_FATAL_FAILURE(generate({"localhost"}, {}, 48h));
  auto c = load_cert(cert());
  ASSERT_TRUE(c);
  const std::time_t now = std::time(nullptr);
  auto at = [&](std::chrono::seconds offset) -> std::time_t { return now + offset.count(); };
  std::time_t t = at(-2h);
  EXPECT_GT(X509_cmp_time(X509_get0_notBefore(c.get()), &t), 0);
  t = at(-50min);
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(c.get()), &t), 0);
  t = at(47h);
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(c.get()), &t), 0);
  t = at(49h);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(c.get()), &t), 0);
}

TEST_F(SelfSignedTest, VerifiesAsItsOwnTrustAnchorForItsNamesOnly) {
  ASSERT_NO_FATAL_FAILURE(generate());
  auto c = load_cert(cert());
  ASSERT_TRUE(c);
  auto verify = [&](const char* host, const char* ip) {
    std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>> store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), c.get());
    std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), c.get(), nullptr);
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    if (host) X509_VERIFY_PARAM_set1_host(param, host, 0);
    if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, ip);
    int ok = X509_verify_cert(ctx.get());
    return ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
  };
  EXPECT_EQ(verify("localhost", nullptr), X509_V_OK);
  EXPECT_EQ(verify(nullptr, "127.0.0.1"), X509_V_OK);
  EXPECT_EQ(verify(nullptr, "::1"), X509_V_OK);
  EXPECT_EQ(verify("other.test", nullptr), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(verify(nullptr, "10.0.0.1"), X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_F(SelfSignedTest, AnIpOnlyCertificateUsesTheAddressAsCn) {
  ASSERT_NO_FATAL_FAILURE(generate({}, {"10.1.2.3"}));
  auto c = load_cert(cert());
  ASSERT_TRUE(c);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(c.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "10.1.2.3");
  EXPECT_EQ(X509_check_ip_asc(c.get(), "10.1.2.3", 0), 1);
}

TEST_F(SelfSignedTest, RegeneratingReplacesBothFiles) {
  ASSERT_NO_FATAL_FAILURE(generate());
  auto first = load_cert(cert());
  ASSERT_NO_FATAL_FAILURE(generate());
  auto second = load_cert(cert());
  auto k = load_key(key());
  ASSERT_TRUE(first && second && k);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(first.get()), X509_get0_serialNumber(second.get())),
      0);
  EXPECT_EQ(X509_check_private_key(second.get(), k.get()), 1);
  EXPECT_EQ(X509_check_private_key(first.get(), k.get()), 0);
  ERR_clear_error();
}

TEST_F(SelfSignedTest, RejectsBadInputWithoutWritingAnything) {
  struct Case {
    std::vector<std::string> dns, ips;
    std::chrono::hours validity;
  };
  const Case cases[] = {
      {{}, {}, 24h},
      {{"localhost"}, {}, 0h},
      {{"localhost"}, {}, -1h},
      {{""}, {}, 24h},
      {{"bad name"}, {}, 24h},
      {{"a,DNS:evil.test"}, {}, 24h},
      {{"a..b"}, {}, 24h},
      {{"trailing."}, {}, 24h},
      {{"mid.*.test"}, {}, 24h},
      {{std::string(64, 'a') + ".test"}, {}, 24h},
      {{"localhost"}, {"127.0.0.256"}, 24h},
      {{"localhost"}, {"localhost"}, 24h},
      {{"localhost"}, {""}, 24h},
  };
  for (const auto& c : cases) {
    auto ok = write_self_signed_cert(cert(), key(), c.dns, c.ips, c.validity);
    ASSERT_FALSE(ok.ok());
    EXPECT_TRUE(ok.error().is(Errc::bad_request)) << ok.error().message;
  }
  EXPECT_TRUE(fs::is_empty(dir_.path()));
}

TEST_F(SelfSignedTest, AcceptsWildcardsAndLongNames) {
  std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + ".test";
  ASSERT_NO_FATAL_FAILURE(generate({long_name, "*.cdn.test"}, {}));
  auto c = load_cert(cert());
  ASSERT_TRUE(c);
  EXPECT_EQ(X509_check_host(c.get(), long_name.c_str(), 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(c.get(), "edge1.cdn.test", 0, 0, nullptr), 1);
}

TEST_F(SelfSignedTest, ReportsAMissingDirectory) {
  fs::path missing = dir_.path() / "no" / "such";
  auto ok = write_self_signed_cert(missing / "c.pem", missing / "k.pem", {"localhost"}, {}, 1h);
  ASSERT_FALSE(ok.ok());
  EXPECT_TRUE(ok.error().is(Errc::io_error)) << ok.error().message;
  EXPECT_NE(ok.error().message.find(missing.string()), std::string::npos) << ok.error().message;
}

TEST_F(SelfSignedTest, SpkiHashMatchesTheOpensslPipeline) {
  ASSERT_NO_FATAL_FAILURE(generate());
  auto pin = spki_sha256_base64(cert());
  ASSERT_TRUE(pin.ok()) << pin.error().message;
  EXPECT_EQ(pin->size(), 44u);
  SHOAL_REQUIRE_TOOL("openssl", "openssl");
  SHOAL_REQUIRE_TOOL("base64", "coreutils");
  auto expected =
      run("openssl x509 -pubkey -noout -in '" + cert().string() +
          "' | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
  ASSERT_EQ(expected.status, 0);
  EXPECT_EQ(*pin + "\n", expected.out);
}

TEST_F(SelfSignedTest, SpkiHashOfAMissingOrNonPemFileFails) {
  auto missing = spki_sha256_base64(dir_.path() / "absent.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().is(Errc::io_error));
  fs::path junk = dir_.path() / "junk.pem";
  std::unique_ptr<FILE, Deleter<std::fclose>> f(std::fopen(junk.c_str(), "w"));
  std::fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f.get());
  f.reset();
  auto bad = spki_sha256_base64(junk);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(Errc::bad_request)) << bad.error().message;
}

// A one-request-per-connection HTTPS server on 127.0.0.1:<ephemeral>, so curl can
// check the certificate exactly as it would against the edge.
class TlsServer {
 public:
  TlsServer(const fs::path& cert, const fs::path& key, int connections) {
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx_.get(), cert.c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_.get(), key.c_str(), SSL_FILETYPE_PEM), 1);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    EXPECT_EQ(::bind(fd_, sa, sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    EXPECT_EQ(::getsockname(fd_, sa, &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, connections] {
      // A client that hangs up mid-handshake (as curl does on a name mismatch) makes
      // the next write raise SIGPIPE, which would kill the test binary. Blocked in this
      // thread only, the write fails with EPIPE instead.
      sigset_t sigpipe;
      sigemptyset(&sigpipe);
      sigaddset(&sigpipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &sigpipe, nullptr);
      for (int i = 0; i < connections && serve_one(); ++i) {
      }
    });
  }
  ~TlsServer() {
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  bool serve_one() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 15000) != 1) return false;  // curl never came: do not hang the test
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return false;
    std::unique_ptr<SSL, Deleter<SSL_free>> ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), conn);
    if (SSL_accept(ssl.get()) == 1) {
      char buf[4096];
      SSL_read(ssl.get(), buf, sizeof buf);  // one small GET; its content does not matter
      const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      SSL_write(ssl.get(), reply, sizeof reply - 1);
      SSL_shutdown(ssl.get());
    }
    ERR_clear_error();
    ::close(conn);
    return true;
  }

  std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>> ctx_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(SelfSignedTest, CurlTrustsItForLocalhostAndTheLoopbackAddress) {
  SHOAL_REQUIRE_TOOL("curl", "curl");
  ASSERT_NO_FATAL_FAILURE(generate({"localhost"}, {"127.0.0.1"}));
  TlsServer server(cert(), key(), 3);
  std::string port = std::to_string(server.port());
  auto curl = [&](const std::string& host) {
    // --resolve pins every name to the IPv4 loopback the server listens on.
    return run("curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert '" +
               cert().string() + "' --resolve " + host + ":" + port + ":127.0.0.1 https://" + host +
               ":" + port + "/ 2>&1");
  };
  auto by_name = curl("localhost");
  EXPECT_EQ(by_name.status, 0) << by_name.out;
  EXPECT_EQ(by_name.out, "200");
  auto by_ip = curl("127.0.0.1");
  EXPECT_EQ(by_ip.status, 0) << by_ip.out;
  EXPECT_EQ(by_ip.out, "200");
  auto wrong = curl("other.test");
  EXPECT_EQ(wrong.status, 60) << "curl: peer certificate cannot be authenticated: " << wrong.out;
}

}  // namespace
}  // namespace shoal
