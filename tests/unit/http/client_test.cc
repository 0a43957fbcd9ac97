// The client against a small scripted HTTP server on loopback: real sockets, with
// the failure modes (idle close, dropped request, early refusal) made deterministic.
#include "http/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "core/sha256.h"

namespace shoal::http {
namespace {

struct RawRequest {
  std::string head, body;
};

enum class Script {
  normal,
  close_after_response,  // like a server whose keep-alive idle timeout fired
  drop_second_request,   // reads the 2nd request on a connection, closes unanswered
  refuse_before_body,    // answers 413 after the head and closes without reading the body
  never_answer,
};

class ScriptedServer {
 public:
  using Handler = std::function<std::string(const RawRequest&)>;

  ScriptedServer(Script script, Handler handler) : script_(script), handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }

  Url url() const { return *Url::parse("http://127.0.0.1:" + std::to_string(port_)); }
  int connections() const { return connections_; }

 private:
  void accept_loop() {
    for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0;) {
      ++connections_;
      serve(c);
      ::close(c);
    }
  }

  // Reads until the end of the head; false on EOF.
  static bool read_head(int c, std::string& buf, RawRequest& req) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      char tmp[65536];
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
    }
    req.head = buf.substr(0, end + 4);
    buf.erase(0, end + 4);
    return true;
  }

  static size_t content_length(const std::string& head) {
    size_t p = head.find("Content-Length: ");
    return p == std::string::npos ? 0 : std::stoul(head.substr(p + 16));
  }

  static void read_body(int c, std::string& buf, RawRequest& req) {
    size_t want = content_length(req.head);
    while (buf.size() < want) {
      char tmp[65536];
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    req.body = buf.substr(0, want);
    buf.erase(0, want);
  }

  static void send_all(int c, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  void serve(int c) {
    std::string buf;
    for (int nth = 1;; ++nth) {
      RawRequest req;
      if (!read_head(c, buf, req)) return;
      if (script_ == Script::never_answer) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return;
      }
      if (script_ == Script::refuse_before_body) {
        send_all(c,
                 "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 54\r\nConnection: close\r\n\r\n"
                 R"({"error":"TOO_LARGE","message":"body over the limit"})");
        return;
      }
      read_body(c, buf, req);
      if (script_ == Script::drop_second_request && nth == 2) return;
      send_all(c, handler_(req));
      if (script_ == Script::close_after_response) return;
    }
  }

  Script script_;
  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::string ok_response(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nX-Test: yes\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// Answers with the request line, so tests can see what arrived.
std::string echo_first_line(const RawRequest& r) {
  return ok_response(r.head.substr(0, r.head.find("\r\n")) + " " + std::to_string(r.body.size()));
}

TEST(HttpClient, SimpleRequestsShareOneConnection) {
  ScriptedServer server(Script::normal, echo_first_line);
  Client client(server.url());
  for (int i = 0; i < 3; ++i) {
    auto r = client.request("POST", "/uploads", {{"Authorization", "Bearer t"}}, "hello");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->header("x-test"), "yes");
    EXPECT_EQ(r->body, "POST /uploads HTTP/1.1 5");
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, ReconnectsAfterIdleClose) {
  ScriptedServer server(Script::close_after_response, echo_first_line);
  Client client(server.url());
  ASSERT_TRUE(client.request("GET", "/a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the FIN arrive
  auto r = client.request("POST", "/b");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "POST /b HTTP/1.1 0");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, RetriesIdempotentRequestDroppedUnanswered) {
  ScriptedServer server(Script::drop_second_request, echo_first_line);
  Client client(server.url());
  ASSERT_TRUE(client.request("GET", "/a"));
  auto r = client.request("GET", "/b");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "GET /b HTTP/1.1 0");
  std::string got;
  auto d = client.download("/c", {}, [&](const char* p, size_t n) -> Result<void> {
    got.append(p, n);
    return {};
  });
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(got, "GET /c HTTP/1.1 0");
}

TEST(HttpClient, DoesNotRepeatPost) {
  ScriptedServer server(Script::drop_second_request, echo_first_line);
  Client client(server.url());
  ASSERT_TRUE(client.request("GET", "/a"));
  auto r = client.request("POST", "/uploads");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::unavailable)) << r.error().message;
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, StreamsUploadFromSource) {
  std::string expected;
  ScriptedServer server(Script::normal, [&](const RawRequest& r) {
    return ok_response(r.body == expected ? "match" : "differ");
  });
  const uint64_t length = 3 * Client::kStreamBuffer + 5;
  for (uint64_t i = 0; i < length; ++i) expected += static_cast<char>('a' + i % 23);
  uint64_t pos = 0;
  size_t calls = 0;
  auto source = [&](char* buf, size_t len) -> Result<size_t> {
    ++calls;
    size_t n = std::min<size_t>(len, 700'000);  // fewer bytes than asked is allowed
    expected.copy(buf, n, pos);
    pos += n;
    return n;
  };
  auto r = Client(server.url()).upload("PATCH", "/uploads/x", {}, length, source);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "match");
  EXPECT_GE(calls, 5u);
}

// A file of `length` pattern bytes from `at` on, for upload_file.
struct TempFile {
  std::string path;
  int fd = -1;
  std::string data;
  TempFile(uint64_t length, uint64_t skip) {
    char name[] = "/tmp/shoal-client-test-XXXXXX";
    fd = ::mkstemp(name);
    path = name;
    std::string all(skip + length, '\0');
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<char>('a' + i % 23);
    EXPECT_EQ(::write(fd, all.data(), all.size()), static_cast<ssize_t>(all.size()));
    data = all.substr(skip);
  }
  ~TempFile() {
    ::close(fd);
    ::unlink(path.c_str());
  }
};

TEST(HttpClient, UploadsARangeOfAFile) {
  const uint64_t skip = 4099, length = 3 * Client::kStreamBuffer + 5;
  TempFile file(length, skip);
  ScriptedServer server(Script::normal, [&](const RawRequest& r) {
    return ok_response(r.body == file.data ? "match" : "differ");
  });
  std::vector<size_t> steps;
  FileBody body{file.fd, skip, length, 300'000, [&](size_t n) -> Result<void> {
                  steps.push_back(n);
                  return {};
                }};
  auto r = Client(server.url()).upload_file("PATCH", "/uploads/x", {}, body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "match");
  uint64_t total = 0;
  for (size_t n : steps) {
    EXPECT_LE(n, 300'000u);  // the rate limiter's step is kept
    total += n;
  }
  EXPECT_EQ(total, length);
}

TEST(HttpClient, UploadFileStopsWhenTheFileIsShort) {
  TempFile file(1000, 0);
  ScriptedServer server(Script::normal, echo_first_line);
  FileBody body{file.fd, 0, 5000, 1 << 20, [](size_t) -> Result<void> { return {}; }};
  auto r = Client(server.url()).upload_file("PATCH", "/uploads/x", {}, body);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::conflict)) << r.error().message;
}

TEST(HttpClient, UploadFileStopsWhenToldTo) {
  TempFile file(4 << 20, 0);
  ScriptedServer server(Script::normal, echo_first_line);
  FileBody body{file.fd, 0, 4 << 20, 1 << 20,
                [](size_t) -> Result<void> { return Error(Errc::cancelled, "enough"); }};
  auto r = Client(server.url()).upload_file("PATCH", "/uploads/x", {}, body);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::cancelled)) << r.error().message;
}

TEST(HttpClient, EarlyRefusalBeatsBrokenPipe) {
  ScriptedServer server(Script::refuse_before_body, echo_first_line);
  std::string block(Client::kStreamBuffer, 'x');
  auto source = [&](char* buf, size_t len) -> Result<size_t> {
    block.copy(buf, len);
    return len;
  };
  auto r = Client(server.url()).upload("PATCH", "/uploads/x", {}, 256ull << 20, source);
  if (r) {
    EXPECT_EQ(r->status, 413u);
    EXPECT_EQ(describe_failure(*r), "body over the limit (413 TOO_LARGE)");
  } else {  // the kernel may drop the answer when the server resets the connection
    EXPECT_TRUE(r.error().is(Errc::unavailable)) << r.error().message;
  }
}

TEST(HttpClient, DownloadStreamsToSinkAndCapturesErrors) {
  std::string blob(3 * Client::kStreamBuffer + 17, 'b');
  ScriptedServer server(Script::normal, [&](const RawRequest& r) {
    if (r.head.starts_with("GET /missing")) {
      std::string b = R"({"error":"BLOB_UNKNOWN","message":"no blob"})";
      return "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(b.size()) + "\r\n\r\n" +
             b;
    }
    return ok_response(blob);
  });
  Client client(server.url());
  size_t total = 0, chunks = 0, head_calls = 0;
  auto sink = [&](const char*, size_t n) -> Result<void> {
    total += n;
    ++chunks;
    return {};
  };
  auto on_head = [&](const Response& h) -> Result<void> {
    ++head_calls;
    EXPECT_EQ(h.header("Content-Length"), std::to_string(blob.size()));
    return {};
  };
  auto r = client.download("/blobs/x", {}, sink, on_head);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(total, blob.size());
  EXPECT_GE(chunks, 4u);
  EXPECT_EQ(head_calls, 1u);
  EXPECT_TRUE(r->body.empty());
  auto e = client.download("/missing", {}, sink, on_head);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 404u);
  EXPECT_EQ(describe_failure(*e), "no blob (404 BLOB_UNKNOWN)");
  EXPECT_EQ(head_calls, 1u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, DownloadIntoFillsTheCallersBuffers) {
  std::string blob(2 * Client::kStreamBuffer + 17, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7 + i / 300);
  ScriptedServer server(Script::normal, [&](const RawRequest& r) {
    if (r.head.starts_with("GET /missing")) {
      return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nno blob");
    }
    return ok_response(blob);
  });
  Client client(server.url());
  std::vector<char> slot(300'000);
  std::string got;
  size_t lent = 0, full = 0;
  BodyBuffers into{[&]() -> Result<std::span<char>> {
                     ++lent;
                     return std::span<char>(slot);
                   },
                   [&](size_t n) -> Result<void> {
                     full += n == slot.size();
                     got.append(slot.data(), n);
                     return {};
                   }};
  auto r = client.download_into("/blobs/x", {}, into);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(got, blob);
  EXPECT_EQ(full, blob.size() / slot.size());  // every buffer but the last filled
  EXPECT_EQ(lent, blob.size() / slot.size() + 1);
  auto e = client.download_into("/missing", {}, into);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 404u);
  EXPECT_EQ(e->body, "no blob");  // an error body is not the blob's
  EXPECT_EQ(got.size(), blob.size());
}

TEST(HttpClient, DownloadIntoCopiesAChunkedBodyAcrossBuffers) {
  const std::string part(5000, 'c');
  ScriptedServer server(Script::normal, [&](const RawRequest&) {
    std::string chunk = "1388\r\n" + part + "\r\n";  // 0x1388 = 5000
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + "0\r\n\r\n";
  });
  std::vector<char> slot(3000);
  std::string got;
  size_t commits = 0;
  BodyBuffers into{[&]() -> Result<std::span<char>> { return std::span<char>(slot); },
                   [&](size_t n) -> Result<void> {
                     ++commits;
                     got.append(slot.data(), n);
                     return {};
                   }};
  auto r = Client(server.url()).download_into("/blobs/x", {}, into);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(got, part + part);
  EXPECT_GE(commits, 4u);  // no buffer was given more than it holds
}

TEST(HttpClient, DownloadIntoStopsAtTheConsumersError) {
  ScriptedServer server(Script::normal,
                        [&](const RawRequest&) { return ok_response(std::string(3 << 20, 'x')); });
  std::vector<char> slot(1 << 20);
  int commits = 0;
  BodyBuffers into{[&]() -> Result<std::span<char>> { return std::span<char>(slot); },
                   [&](size_t) -> Result<void> {
                     if (++commits == 2) return Error(Errc::disk_full, "no room");
                     return {};
                   }};
  auto r = Client(server.url()).download_into("/blobs/x", {}, into);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::disk_full));
  EXPECT_EQ(commits, 2);
}

TEST(HttpClient, SinkErrorAbortsDownload) {
  ScriptedServer server(Script::normal, [](const RawRequest&) { return ok_response("data"); });
  auto r = Client(server.url()).download("/x", {}, [](const char*, size_t) -> Result<void> {
    return Error(Errc::disk_full, "write out: No space left on device");
  });
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::disk_full));
}

TEST(HttpClient, ConnectRefusedNamesEndpoint) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);  // a port nobody listens on
  std::string port = std::to_string(ntohs(a.sin_port));
  auto r = Client(*Url::parse("http://127.0.0.1:" + port)).request("GET", "/health");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "connect to 127.0.0.1:" + port + ": Connection refused");
}

TEST(HttpClient, ReadTimeout) {
  ScriptedServer server(Script::never_answer, echo_first_line);
  ClientOptions o;
  o.io_timeout = std::chrono::milliseconds(100);
  auto r = Client(server.url(), o).request("GET", "/slow");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::timed_out)) << r.error().message;
  EXPECT_NE(r.error().message.find("timed out after 100 ms"), std::string::npos);
}

TEST(HttpErrors, JsonStringField) {
  std::string body = R"({"error": "DIGEST_MISMATCH", "message":"a \"quoted\" \u0041 line\nnext"})";
  EXPECT_EQ(json_string_field(body, "error"), "DIGEST_MISMATCH");
  EXPECT_EQ(json_string_field(body, "message"), "a \"quoted\" A line\nnext");
  EXPECT_EQ(json_string_field(body, "missing"), "");
  EXPECT_EQ(json_string_field(R"({"x":"message","message":"real"})", "message"), "real");
  EXPECT_EQ(json_string_field("not json", "message"), "");
  EXPECT_EQ(json_string_field(R"({"message":"unterminated)", "message"), "unterminated");
}

TEST(HttpErrors, DescribeFailure) {
  Response r;
  r.status = 502;
  r.body = "<html>bad gateway</html>";
  EXPECT_EQ(describe_failure(r), "HTTP status 502");
  r.status = 400;
  r.body = R"({"message":"two\nlines"})";
  EXPECT_EQ(describe_failure(r), "two lines (400)");
}

}  // namespace
}  // namespace shoal::http
