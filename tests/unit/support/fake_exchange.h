// An Exchange without a connection, for handler tests: the request is given, the
// response (head, body, file parts as text) is kept for the test to read.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "http/exchange.h"

namespace shoal::test {

class FakeExchange final : public http::Exchange {
 public:
  explicit FakeExchange(bhttp::verb method, std::string target,
                        std::vector<std::pair<bhttp::field, std::string>> headers = {})
      : Exchange(make_request(method, target, headers), "127.0.0.1:1") {}

  awaitable<Result<size_t>> read_body(std::span<char>) override { co_return size_t{0}; }

  awaitable<void> respond(http::Head h, std::string_view body) override {
    record(std::move(h));
    if (method() != bhttp::verb::head) sent_body += body;
    sent_ += body.size();
    co_return;
  }
  awaitable<void> respond_file(http::Head h, int, uint64_t offset, uint64_t length) override {
    record(std::move(h));
    file_parts.emplace_back(offset, length);
    co_return;
  }
  awaitable<bool> start_body(http::Head h, uint64_t length) override {
    record(std::move(h));
    announced_length = length;
    co_return method() != bhttp::verb::head && !client_gone;
  }
  awaitable<bool> send_file_part(int fd, uint64_t offset, uint64_t length) override {
    if (client_gone) co_return false;
    file_parts.emplace_back(offset, length);
    part_fds.push_back(fd);
    sent_ += length;
    co_return true;
  }

  http::Head head;
  std::vector<int> part_fds;  // the descriptor each send_file_part was given
  std::string sent_body;
  std::vector<std::pair<uint64_t, uint64_t>> file_parts;  // (offset, length)
  uint64_t announced_length = 0;
  int responses = 0;
  bool client_gone = false;

 private:
  static http::RequestHead make_request(
      bhttp::verb method, const std::string& target,
      const std::vector<std::pair<bhttp::field, std::string>>& headers) {
    http::RequestHead req;
    req.method(method);
    req.target(target);
    for (const auto& [f, v] : headers) req.set(f, v);
    return req;
  }
  void record(http::Head h) {
    ++responses;
    responded_ = true;
    status_ = h.result();
    head = std::move(h);
  }
};

}  // namespace shoal::test
