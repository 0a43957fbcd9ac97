// h3::Client: request building, connection reuse and the one retry a GET allows.
// The QUIC/HTTP/3 machinery is in h3_client_conn.h.
#include "http/h3/client.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "http/h3/client_conn.h"

namespace shoal::http::h3 {

namespace {

using detail::Connection;
using detail::Exchange;

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

Result<std::vector<Address>> resolve(const Url& url) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  addrinfo* found = nullptr;
  std::string port = std::to_string(url.port);
  if (int rv = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rv != 0) {
    return Error(Errc::unavailable, "resolve " + url.host + ": " + gai_strerror(rv));
  }
  std::vector<Address> out;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address a;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    out.push_back(a);
  }
  ::freeaddrinfo(found);
  if (out.empty()) return Error(Errc::unavailable, "resolve " + url.host + ": no address");
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Fields HTTP/3 forbids (connection-specific) or carries as pseudo-headers.
bool forbidden_field(const std::string& name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host" || name == "te" ||
         name.empty() || name.front() == ':';
}

// Owns the request's fields; nva() points into them.
class RequestFields {
 public:
  RequestFields(const Url& base, std::string_view path, const Headers& headers,
                const std::string& user_agent) {
    add(":method", "GET");
    add(":scheme", "https");
    add(":authority", base.host_header());
    add(":path", base.target(path));
    bool has_agent = false;
    for (const auto& [name, value] : headers) {
      std::string n = lower(name);
      if (forbidden_field(n)) continue;
      has_agent = has_agent || n == "user-agent";
      add(std::move(n), value);
    }
    if (!has_agent && !user_agent.empty()) add("user-agent", user_agent);
  }

  std::vector<nghttp3_nv> nva() const {
    std::vector<nghttp3_nv> out;
    out.reserve(fields_.size());
    for (const auto& [name, value] : fields_) {
      out.push_back(nghttp3_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                               reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
                               name.size(), value.size(), NGHTTP3_NV_FLAG_NONE});
    }
    return out;
  }

 private:
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace

class Client::Impl {
 public:
  Impl(Url base, ClientOptions options) : base_(std::move(base)), opt_(std::move(options)) {}
  ~Impl() { close(); }

  Result<Response> download(std::string_view path, const Headers& headers, const BodySink& sink,
                            const HeadHook& on_head);
  const Url& url() const { return base_; }
  void close() {
    if (conn_) conn_->close();
    conn_.reset();
  }

 private:
  Result<void> connect();
  Result<void> connect_to(const std::vector<Address>& addresses);

  Url base_;
  ClientOptions opt_;
  std::unique_ptr<Connection> conn_;
};

Result<void> Client::Impl::connect() {
  conn_.reset();
  if (!base_.tls()) {
    return Error(Errc::bad_request, "HTTP/3 needs an https:// URL, not " + base_.str());
  }
  auto addresses = resolve(base_);
  if (!addresses) return addresses.error();
  return connect_to(*addresses);
}

// Tries each address in resolver order within one connect_timeout: "localhost" is
// often ::1 first while the server only listens on 127.0.0.1.
Result<void> Client::Impl::connect_to(const std::vector<Address>& addresses) {
  auto deadline = Connection::Clock::now() + opt_.connect_timeout;
  std::optional<Error> last;
  for (const auto& a : addresses) {
    auto conn = std::make_unique<Connection>(base_, opt_);
    auto ok = conn->open(reinterpret_cast<const sockaddr*>(&a.addr), a.len, deadline);
    if (ok) {
      conn_ = std::move(conn);
      return {};
    }
    last = ok.error();
    // Only a refused or unreachable address is worth the next one: a TLS or
    // protocol failure would repeat, and a timeout has used up the budget.
    if (!conn->unreachable()) break;
  }
  return *last;
}

Result<Response> Client::Impl::download(std::string_view path, const Headers& headers,
                                        const BodySink& sink, const HeadHook& on_head) {
  RequestFields fields(base_, path, headers, opt_.user_agent);
  auto nva = fields.nva();
  for (int attempt = 0;; ++attempt) {
    bool reused = conn_ && conn_->reusable();
    if (!reused) {
      close();
      if (auto ok = connect(); !ok) return ok.error();
    }
    Exchange ex;
    ex.sink = &sink;
    ex.on_head = &on_head;
    auto ok = conn_->fetch(nva, ex, reused);
    if (!ok) {
      conn_.reset();
      // A GET is safe to repeat when an old connection died before any answer.
      if (reused && attempt == 0 && !ex.received_anything && ok.error().is(Errc::unavailable)) {
        continue;
      }
      return ok.error();
    }
    if (ex.failure) return *ex.failure;
    return std::move(ex.response);
  }
}

Client::Client(Url base, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(base), std::move(options))) {}
Client::~Client() = default;

Result<Response> Client::download(std::string_view path, const Headers& headers,
                                  const BodySink& sink, const HeadHook& on_head) {
  return impl_->download(path, headers, sink, on_head);
}

const Url& Client::url() const { return impl_->url(); }

void Client::close() { impl_->close(); }

}  // namespace shoal::http::h3
