// A blocking HTTP/3 client: one QUIC connection (ngtcp2 + GnuTLS + nghttp3) to one
// https base URL, opened on first use and reused for later requests. The same
// contract as the HTTP/1.1 client's download(), so callers can pick either.
//
// Not thread-safe: one Client per thread.
#pragma once

#include <memory>
#include <string_view>

#include "http/client.h"

namespace shoal::http::h3 {

class Client {
 public:
  // base is https://host:port; the constructor does no I/O.
  Client(Url base, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One GET on the (lazily opened, then reused) QUIC connection. A 2xx body goes to
  // `sink` chunk by chunk; a non-2xx body is returned in Response::body (capped at
  // http::Client::kMaxSmallBody). Errors as Result.
  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head = {});

  const Url& url() const;
  void close();  // closes the connection politely; the next request reconnects

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::http::h3
