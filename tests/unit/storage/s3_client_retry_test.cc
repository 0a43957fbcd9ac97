// The S3 client's retries, resumption and abort against a scripted loopback server:
// each connection gets the next canned answer and is closed, so every attempt is a
// request the test can see.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "core/text.h"
#include "storage/s3_client.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::storage {
namespace {

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> answers) : answers_(std::move(answers)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    ::listen(fd_, 8);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    for (const auto& answer : answers_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string head = read_request(c);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(head);
      }
      (void)::write(c, answer.data(), answer.size());
      ::shutdown(c, SHUT_WR);
      char sink[256];
      while (::read(c, sink, sizeof sink) > 0) {
      }
      ::close(c);
    }
  }
  // The head, with its body read and dropped so the client never sees a reset.
  static std::string read_request(int c) {
    std::string data;
    char buf[65536];
    size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      auto n = ::read(c, buf, sizeof buf);
      if (n <= 0) return data;
      data.append(buf, static_cast<size_t>(n));
    }
    std::string head = data.substr(0, end);
    uint64_t body = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos)
      body = text::parse_uint<uint64_t>(head.substr(at + 16, head.find("\r\n", at) - at - 16)).value_or(0);
    for (uint64_t have = data.size() - end - 4; have < body;) {
      auto n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      have += static_cast<uint64_t>(n);
    }
    return head;
  }

  std::vector<std::string> answers_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

std::string answer(std::string status, std::string body = "", std::string extra = "") {
  return "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra + "\r\n" + body;
}

S3Options options_for(const ScriptedServer& server) {
  S3Options o;
  o.endpoint = *Url::parse("http://127.0.0.1:" + std::to_string(server.port()));
  o.bucket = "b";
  o.credentials = {"id", "secret"};
  o.attempts = 3;
  o.first_backoff = std::chrono::milliseconds(1);
  return o;
}

TEST(S3ClientRetry, FiveHundredsAreRetriedUntilAnAnswerComes) {
  ScriptedServer server({answer("503 Slow Down"), answer("500 Internal Server Error"),
                         "HTTP/1.1 200 OK\r\nContent-Length: 42\r\nConnection: close\r\n\r\n"});
  S3Client client(options_for(server));
  auto size = client.head_object("k");
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_EQ(*size, std::optional<uint64_t>(42));
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(S3ClientRetry, RetriesAreBoundedAndTheLastErrorIsOneLine) {
  std::string error = "<Error><Code>InternalError</Code><Message>boom\nagain</Message></Error>";
  ScriptedServer server({answer("500 Internal Server Error", error),
                         answer("500 Internal Server Error", error),
                         answer("500 Internal Server Error", error)});
  S3Client client(options_for(server));
  auto r = client.delete_object("k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "S3 DELETE b/k: 500 InternalError: boom again");
  EXPECT_TRUE(r.error().is(Errc::unavailable));
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(S3ClientRetry, AGetCutOffMidwayResumesWithARangeAndNeverRepeatsBytes) {
  ScriptedServer server(
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcd",
       answer("206 Partial Content", "efghij", "Content-Range: bytes 4-9/10\r\n")});
  S3Client client(options_for(server));
  std::string got;
  auto size = client.get_object("k", [&](const char* data, size_t len) -> Result<void> {
    got.append(data, len);
    return {};
  });
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_EQ(got, "abcdefghij");
  EXPECT_EQ(*size, 10u);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].find("Range:"), std::string::npos);
  EXPECT_NE(requests[1].find("Range: bytes=4-"), std::string::npos) << requests[1];
}

TEST(S3ClientRetry, AFailedPartAbortsTheMultipartUpload) {
  ScriptedServer server(
      {answer("200 OK", "<InitiateMultipartUploadResult><UploadId>u-1</UploadId>"
                        "</InitiateMultipartUploadResult>"),
       answer("400 Bad Request", "<Error><Code>InvalidPart</Code></Error>"),
       answer("204 No Content")});
  auto options = options_for(server);
  options.part_size = 5;
  options.parallel_parts = 1;
  S3Client client(options);
  test::TempDir dir;
  std::ofstream((dir.path() / "f").string()) << "0123456789";
  int fd = ::open((dir.path() / "f").c_str(), O_RDONLY | O_CLOEXEC);
  auto r = client.put_object("k", fd, 10);
  ::close(fd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "S3 PUT b/k part 1: 400 InvalidPart");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].rfind("POST /b/k?uploads= ", 0), 0u) << requests[0];
  EXPECT_EQ(requests[1].rfind("PUT /b/k?partNumber=1&uploadId=u-1 ", 0), 0u) << requests[1];
  EXPECT_EQ(requests[2].rfind("DELETE /b/k?uploadId=u-1 ", 0), 0u) << requests[2];
}

}  // namespace
}  // namespace shoal::storage
