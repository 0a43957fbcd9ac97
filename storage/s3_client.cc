#include "storage/s3_client.h"

#include <ctime>
#include <thread>

#include "core/text.h"
#include "storage/s3_xml.h"

namespace shoal::storage {

// Idle keep-alive connections; a thread takes one for a request and gives it back.
class S3Client::Pool {
 public:
  Pool(Url base, http::ClientOptions options) : base_(std::move(base)), options_(std::move(options)) {}

  std::unique_ptr<http::Client> take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return std::make_unique<http::Client>(base_, options_);
  }

  void give(std::unique_ptr<http::Client> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

 private:
  static constexpr size_t kMaxIdle = 8;
  Url base_;
  http::ClientOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<http::Client>> idle_;
};

namespace {

std::string query_suffix(const http::Headers& query) {
  return query.empty() ? "" : "?" + canonical_query(query);
}

bool retryable(unsigned status) { return status >= 500; }

}  // namespace

Error s3_failure(std::string_view method, std::string_view what, const http::Response& r) {
  std::string line = s3_error_line(r.body);
  if (line.empty()) line = "HTTP " + std::to_string(r.status);
  else line = std::to_string(r.status) + " " + line;
  return Error(http::errc_for_status(r.status),
               "S3 " + std::string(method) + " " + std::string(what) + ": " + line);
}

S3Client::S3Client(S3Options options)
    : opt_(std::move(options)), pool_(std::make_unique<Pool>(opt_.endpoint, opt_.http)) {}

S3Client::~S3Client() = default;

std::string S3Client::path_of(std::string_view key) const {
  std::string path = "/" + uri_encode(opt_.bucket, false);
  if (!key.empty()) path += "/" + uri_encode(key, true);
  return path;
}

bool S3Client::sign_payload() const { return opt_.sign_payload.value_or(!opt_.endpoint.tls()); }

std::chrono::milliseconds S3Client::backoff(unsigned attempt) const {
  auto wait = opt_.first_backoff * (1u << std::min(attempt, 6u));
  return std::min<std::chrono::milliseconds>(wait, std::chrono::seconds(10));
}

Result<http::Response> S3Client::send_once(http::Client& client, const Request& r) {
  std::string path = path_of(r.key);
  http::Headers headers = r.headers;
  sign_s3(headers, r.method, opt_.endpoint.target(path), r.query, opt_.endpoint.host_header(),
          r.payload_hash, opt_.credentials, opt_.region, std::time(nullptr));
  std::string target = path + query_suffix(r.query);
  if (r.body.empty()) return client.request(r.method, target, headers);
  size_t sent = 0;
  return client.upload(r.method, target, headers, r.body.size(),
                       [&](char* buf, size_t len) -> Result<size_t> {
                         size_t n = std::min(len, r.body.size() - sent);
                         std::copy_n(r.body.data() + sent, n, buf);
                         sent += n;
                         return n;
                       });
}

Result<http::Response> S3Client::send(const Request& r) {
  auto client = pool_->take();
  for (unsigned attempt = 1;; ++attempt) {
    auto response = send_once(*client, r);
    bool again = !response || retryable(response->status);
    if (!again || attempt >= opt_.attempts) {
      pool_->give(std::move(client));
      return response;
    }
    std::this_thread::sleep_for(backoff(attempt - 1));
  }
}

Result<http::Response> S3Client::probe_bucket() {
  return send({.method = "GET",
               .query = {{"list-type", "2"}, {"max-keys", "1"}},
               .payload_hash = std::string(kEmptyPayloadHash)});
}

Result<std::optional<uint64_t>> S3Client::head_object(std::string_view key) {
  auto r = send({.method = "HEAD", .key = key, .payload_hash = std::string(kEmptyPayloadHash)});
  if (!r) return r.error();
  if (r->status == 404) return std::optional<uint64_t>();
  if (!r->success()) return s3_failure("HEAD", opt_.bucket + "/" + std::string(key), *r);
  auto size = text::parse_uint<uint64_t>(r->header("content-length"));
  if (!size) return Error(Errc::protocol_error, "S3 HEAD " + std::string(key) + ": no Content-Length");
  return std::optional<uint64_t>(*size);
}

Result<void> S3Client::delete_object(std::string_view key) {
  auto r = send({.method = "DELETE", .key = key, .payload_hash = std::string(kEmptyPayloadHash)});
  if (!r) return r.error();
  if (!r->success() && r->status != 404)
    return s3_failure("DELETE", opt_.bucket + "/" + std::string(key), *r);
  return {};
}

// A GET that resumes where it was cut off: bytes the sink has taken are never sent
// to it twice, so a retry asks for the rest with a Range header.
Result<uint64_t> S3Client::get_object(std::string_view key, const http::BodySink& sink) {
  std::string what = opt_.bucket + "/" + std::string(key);
  uint64_t delivered = 0;
  std::optional<Error> sink_error;
  auto counting = [&](const char* data, size_t len) -> Result<void> {
    auto ok = sink(data, len);
    if (ok) {
      delivered += len;
    } else {
      sink_error = ok.error();
    }
    return ok;
  };
  auto client = pool_->take();
  for (unsigned attempt = 1;; ++attempt) {
    uint64_t resumed_at = delivered;
    http::Headers headers;
    if (resumed_at > 0) headers.emplace_back("Range", "bytes=" + std::to_string(resumed_at) + "-");
    sign_s3(headers, "GET", opt_.endpoint.target(path_of(key)), {}, opt_.endpoint.host_header(),
            kEmptyPayloadHash, opt_.credentials, opt_.region, std::time(nullptr));
    auto on_head = [&](const http::Response& head) -> Result<void> {
      if (resumed_at > 0 && head.success() && head.status != 206)
        return Error(Errc::protocol_error, "S3 GET " + what + ": the server ignored the Range of a resumed read");
      return {};
    };
    auto r = client->download(path_of(key), headers, counting, on_head);
    if (sink_error) return *sink_error;
    if (r && r->success()) {
      pool_->give(std::move(client));
      return delivered;
    }
    if (r && !retryable(r->status)) {
      pool_->give(std::move(client));
      if (r->status == 404) return Error(Errc::not_found, "S3 GET " + what + ": no such object");
      return s3_failure("GET", what, *r);
    }
    if (!r && r.error().is(Errc::protocol_error)) return r.error();
    if (attempt >= opt_.attempts) return r ? s3_failure("GET", what, *r) : r.error();
    std::this_thread::sleep_for(backoff(attempt - 1));
  }
}

}  // namespace shoal::storage
