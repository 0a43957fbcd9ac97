// open_transport(): the one place that knows all three HTTP clients.
#include "http/client.h"

#include <utility>

#include "http/h2/client.h"
#include "http/h3/client.h"

namespace shoal::http {
namespace {

// Any client with the common download() signature.
template <class Client>
class ClientTransport final : public Transport {
 public:
  ClientTransport(Protocol protocol, std::unique_ptr<Client> client)
      : protocol_(protocol), client_(std::move(client)) {}

  Result<Response> download(std::string_view path, const Headers& headers,
                                  const BodySink& sink,
                                  const HeadHook& on_head) override {
    return client_->download(path, headers, sink, on_head);
  }
  void download_batch(std::string_view path, const Headers& headers, unsigned streams,
                      const NextRequest& next) override {
    if constexpr (requires { client_->download_streams(path, headers, streams, next); }) {
      if (streams > 1) {
        (void)client_->download_streams(path, headers, streams, next);  // done() saw the errors
        return;
      }
    }
    Transport::download_batch(path, headers, streams, next);
  }
  Protocol protocol() const override { return protocol_; }

 private:
  Protocol protocol_;
  std::unique_ptr<Client> client_;
};

template <class Client>
std::unique_ptr<Transport> wrap(Protocol protocol, std::unique_ptr<Client> client) {
  return std::make_unique<ClientTransport<Client>>(protocol, std::move(client));
}

Result<std::unique_ptr<Transport>> open_h3(const Url& base, const ClientOptions& options) {
  return wrap(Protocol::http3, std::make_unique<h3::Client>(base, options));
}

std::string offered(const std::string& alpn) {
  return alpn.empty() ? "no protocol" : "\"" + alpn + "\"";
}

Result<std::unique_ptr<Transport>> open_h2(Protocol wanted, const Url& base,
                                           const ClientOptions& options) {
  auto client = std::make_unique<h2::Client>(base, options);
  auto h2 = client->connect();
  if (!h2) return h2.error();
  if (*h2) return wrap(Protocol::http2, std::move(client));
  if (wanted == Protocol::http2) {
    return Error(Errc::protocol_error, base.endpoint() + " did not agree to HTTP/2: ALPN chose " +
                                           offered(client->alpn()));
  }
  // A second handshake, once: the HTTP/1.1 client makes its own TLS connection.
  return wrap(Protocol::http1, std::make_unique<Client>(base, options));
}

}  // namespace

void Transport::download_batch(std::string_view path, const Headers& headers, unsigned,
                               const NextRequest& next) {
  for (StreamRequest item; next(item); item = {}) item.done(download(path, headers, item.sink, {}));
}

std::string_view protocol_name(Protocol p) {
  switch (p) {
    case Protocol::http1: return "http/1.1";
    case Protocol::http2: return "h2";
    case Protocol::http3: return "h3";
    case Protocol::automatic: break;
  }
  return "auto";
}

Result<std::unique_ptr<Transport>> open_transport(Protocol wanted, const Url& base,
                                                  const ClientOptions& options) {
  if (wanted == Protocol::http3) {
    if (!base.tls()) return Error(Errc::bad_request, "HTTP/3 needs an https URL");
    return open_h3(base, options);
  }
  if (wanted == Protocol::http2 && !base.tls())
    return Error(Errc::bad_request, "HTTP/2 needs an https URL (h2c is not supported)");
  if (wanted == Protocol::http1 || !base.tls())
    return wrap(Protocol::http1, std::make_unique<Client>(base, options));
  return open_h2(wanted, base, options);
}

}  // namespace shoal::http
