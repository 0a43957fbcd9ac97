// `shoal get`'s view of a connection: one server, requests one after another, over
// whichever HTTP version was chosen. Each protocol's client (http/client.h,
// http/h2/client.h, http/h3/client.h) has the same download(); a Transport only
// adds which protocol it is, so the command and its load generator never branch on it.
#pragma once

#include <memory>
#include <string_view>

#include "core/error.h"
#include "http/h2/client.h"
#include "http/client.h"
#include "core/url.h"

namespace shoal::cli::get {

enum class Protocol { automatic, http1, http2, http3 };

// "http/1.1", "h2", "h3" (the ALPN names, as the edge's metrics label them).
std::string_view protocol_name(Protocol p);

// One GET of a batch; the same shape for every protocol (see http/h2/client.h).
using BatchItem = http::h2::StreamRequest;
using NextItem = http::h2::NextRequest;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<http::Response> download(std::string_view path, const http::Headers& headers,
                                          const http::BodySink& sink,
                                          const http::HeadHook& on_head) = 0;
  // GETs of `path` taken from `next` until it has no more, up to `streams` at once
  // where the protocol multiplexes, else one after another. Outcomes go to each
  // item's done(); returns early (with items left) only when the connection failed.
  virtual void download_batch(std::string_view path, const http::Headers& headers, unsigned streams,
                              const NextItem& next);
  virtual Protocol protocol() const = 0;  // never automatic
};

// A transport speaking `wanted`. For https, HTTP/2 connects at once so that ALPN
// decides: automatic becomes h2 if the server picks it, else HTTP/1.1; an explicit
// HTTP/2 fails if the server does not pick it. Errc::bad_request for combinations
// that cannot work (HTTP/2 or HTTP/3 on an http URL, HTTP/3 not built).
Result<std::unique_ptr<Transport>> open_transport(Protocol wanted, const Url& base,
                                                  const http::ClientOptions& options);

}  // namespace shoal::cli::get
