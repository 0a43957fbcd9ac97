// A synchronous HTTP/2 client for the command line: one TLS connection (ALPN "h2")
// to one base URL, reused across requests: one stream at a time (download), or many
// at once for load generation (download_streams). Same request and response types as
// the HTTP/1.1 client (http/client.h), so a caller can hold either behind one
// interface.
//
// Bodies stream: each DATA chunk goes to the sink while the frame is parsed, and the
// receive windows are large (16 MiB per stream and per connection) so a fast server
// is not throttled by WINDOW_UPDATE round trips.
//
// Not thread-safe: one Client per thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/client.h"
#include "core/url.h"

namespace shoal::http::h2 {

class Client {
 public:
  static constexpr int32_t kWindow = 16 << 20;  // receive window, per stream and connection

  // `base` must be https: HTTP/2 is only spoken after ALPN (no h2c).
  explicit Client(Url base, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects now (requests connect on demand otherwise). True when the server chose
  // "h2" by ALPN; false when it chose something else, in which case the connection is
  // dropped and alpn() says what the server offered instead ("" for no ALPN answer).
  Result<bool> connect();

  // A GET whose 2xx body is passed to `sink` chunk by chunk; a non-2xx body (an error
  // document, at most http::Client::kMaxSmallBody) is returned in Response::body.
  // An error from `sink` or `on_head` cancels the stream (RST_STREAM) and is returned;
  // the connection stays usable.
  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head = {});

  // GETs of `path` with up to `streams` of them in flight at once on this connection,
  // taking requests from `next` until it says there are no more. Each request's
  // done() is called as its stream ends. A connection failure ends every stream in
  // flight with that error and is returned (no retry: this is for load generation).
  Result<void> download_streams(std::string_view path, const Headers& headers, unsigned streams,
                                const NextRequest& next);

  const Url& url() const;
  std::string alpn() const;  // protocol of the last TLS handshake
  void close();              // drops the connection; the next request reconnects

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::http::h2
