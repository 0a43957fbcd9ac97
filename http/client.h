// Shoal's HTTP clients, as their callers see them: the request and response types all
// three protocols share, the synchronous HTTP/1.1 Client that servers use between
// themselves (implemented in http/h1/), and one Transport interface over the HTTP/1.1,
// HTTP/2 (http/h2/client.h) and HTTP/3 (http/h3/client.h) clients, opened by
// open_transport(), so a command never branches on the protocol.
//
// Bodies in both directions can be streamed, so memory does not grow with blob size.
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/url.h"

namespace shoal::http {

struct ClientOptions {
  bool verify_tls = true;  // --insecure turns this off
  std::string ca_file;     // PEM bundle; empty means the system's trust store
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds io_timeout{60'000};  // each read or write on the socket
  std::string user_agent = "shoal";
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  unsigned status = 0;
  Headers headers;
  std::string body;  // for streamed 2xx downloads: empty (the bytes went to the sink)

  bool success() const { return status >= 200 && status < 300; }
  // Case-insensitive lookup; "" if absent.
  std::string header(std::string_view name) const;
};

// Fills up to `len` bytes of `buf`; returns how many (more than 0 until the declared
// length has been produced). An error aborts the request and closes the connection.
using BodySource = std::function<Result<size_t>(char* buf, size_t len)>;
// A request body read from a file (Client::upload_file).
struct FileBody {
  int fd = -1;
  uint64_t offset = 0, length = 0;
  size_t step = 1 << 20;
  std::function<Result<void>(size_t n)> sent;
};
// Receives each chunk of a streamed response body in order.
using BodySink = std::function<Result<void>(const char* data, size_t len)>;
// Buffers a streamed body is received into in place: acquire() lends a free buffer,
// commit(n) takes its first n bytes (HashWriter's pipeline, so no byte is copied
// from the client's buffer into it).
struct BodyBuffers {
  std::function<Result<std::span<char>>()> acquire;
  std::function<Result<void>(size_t n)> commit;
};
// Sees the status and headers of a streamed response before any body byte.
using HeadHook = std::function<Result<void>(const Response& head)>;

class Client {
 public:
  static constexpr size_t kMaxSmallBody = 1 << 20;  // responses read into memory
  static constexpr size_t kStreamBuffer = 1 << 20;  // one read or write of a streamed body

  explicit Client(Url base, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A request with a small in-memory body; the response body is capped at kMaxSmallBody.
  Result<Response> request(std::string_view method, std::string_view path,
                           const Headers& headers = {}, std::string_view body = {});

  // A request whose body (exactly `length` bytes, sent with Content-Length) is pulled
  // from `source` through one kStreamBuffer buffer.
  Result<Response> upload(std::string_view method, std::string_view path, const Headers& headers,
                          uint64_t length, const BodySource& source);

  // The same with the body taken from `length` bytes of `fd` at `offset`: sent with
  // sendfile(2) on plain TCP (no copy through this process), else read through the
  // buffer. `sent` hears of each step of at most `step` bytes once it is written
  // (progress, rate limits); an error from it aborts the request.
  Result<Response> upload_file(std::string_view method, std::string_view path,
                               const Headers& headers, const FileBody& body);

  // A GET whose 2xx body is passed to `sink` chunk by chunk; a non-2xx body (an error
  // document) is returned in Response::body instead and `sink` is not called.
  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head = {});

  // The same, with a 2xx body received straight into `into`'s buffers.
  Result<Response> download_into(std::string_view path, const Headers& headers,
                                 const BodyBuffers& into, const HeadHook& on_head = {});

  const Url& url() const;
  void close();  // drops the connection; the next request reconnects

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A GET on a fresh connection, read in full up to `limit` bytes: the body of a
// success, or the error document of a failure (in Response::body either way).
// Errc::too_large past the limit. For small answers between servers (metainfo,
// tags, manifests), where a blocking call on a worker thread is fine.
Result<Response> get_capped(const Url& base, std::string_view path, size_t limit,
                            const ClientOptions& options);
// The same, with a non-2xx status turned into its Errc and a one-line message.
Result<std::string> get_small(const Url& base, std::string_view path, size_t limit,
                              const ClientOptions& options);

// The "message" of a Shoal JSON error body ({"error":"CODE","message":"..."}), or ""
// if there is none. Tolerant on purpose: it only serves one-line CLI errors.
std::string json_string_field(std::string_view body, std::string_view field);

// The Errc for a non-2xx status: 5xx is unavailable (worth retrying), 401/403/404/413/
// 416/507 map to their own codes, other 4xx to bad_request.
Errc errc_for_status(unsigned status);

// "body over the limit (413 TOO_LARGE)": the server's message and code when the body
// is a Shoal error document, else the status with its reason phrase.
std::string describe_failure(const Response& response);

// One GET of a batch sharing a connection: where its body goes, and who hears how
// it ended (a Response, a non-2xx one with its error body included, or an Error).
struct StreamRequest {
  BodySink sink;
  std::function<void(Result<Response>)> done;
};
// Fills the next request of a batch; false when there are no more.
using NextRequest = std::function<bool(StreamRequest&)>;

enum class Protocol { automatic, http1, http2, http3 };

// "http/1.1", "h2", "h3" (the ALPN names, as servers' metrics label them).
std::string_view protocol_name(Protocol p);

// One server, requests one after another (or several at once where the protocol
// multiplexes), over whichever HTTP version was chosen.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<Response> download(std::string_view path, const Headers& headers,
                                    const BodySink& sink, const HeadHook& on_head) = 0;
  // GETs of `path` taken from `next` until it has no more, up to `streams` at once
  // where the protocol multiplexes, else one after another. Outcomes go to each
  // item's done(); returns early (with items left) only when the connection failed.
  virtual void download_batch(std::string_view path, const Headers& headers, unsigned streams,
                              const NextRequest& next);
  virtual Protocol protocol() const = 0;  // never automatic
};

// A transport speaking `wanted`. For https, HTTP/2 connects at once so that ALPN
// decides: automatic becomes h2 if the server picks it, else HTTP/1.1; an explicit
// HTTP/2 fails if the server does not pick it. Errc::bad_request for combinations
// that cannot work (HTTP/2 or HTTP/3 on an http URL).
Result<std::unique_ptr<Transport>> open_transport(Protocol wanted, const Url& base,
                                                  const ClientOptions& options);

}  // namespace shoal::http
