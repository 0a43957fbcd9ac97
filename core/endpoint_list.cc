#include "core/endpoint_list.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "core/text.h"

namespace shoal {

std::vector<Url> canonical_members(std::vector<Url> urls) {
  std::sort(urls.begin(), urls.end(),
            [](const Url& a, const Url& b) { return a.str() < b.str(); });
  urls.erase(std::unique(urls.begin(), urls.end(),
                         [](const Url& a, const Url& b) { return a.str() == b.str(); }),
             urls.end());
  return urls;
}

Result<EndpointList> EndpointList::parse(std::string_view text) {
  text = text::trim_space(text);
  EndpointList list;
  if (text.starts_with("dns:")) {
    std::string_view rest = text.substr(4);
    size_t colon = rest.rfind(':');
    auto port = colon == std::string_view::npos
                    ? std::nullopt
                    : text::parse_uint<uint16_t>(rest.substr(colon + 1));
    if (!port || *port == 0 || colon == 0) {
      return Error(Errc::bad_request,
                   "\"" + std::string(text) + "\" is not dns:NAME:PORT (e.g. dns:origins:4100)");
    }
    list.dns_name_ = std::string(rest.substr(0, colon));
    list.dns_port_ = *port;
    return list;
  }
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text::trim_space(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    auto url = Url::parse(item);
    if (!url) return Error(Errc::bad_request, "\"" + std::string(item) + "\": " + url.error().message);
    list.urls_.push_back(std::move(*url));
  }
  if (list.urls_.empty()) return Error(Errc::bad_request, "no URL given");
  return list;
}

EndpointList EndpointList::of(std::vector<Url> urls) {
  EndpointList list;
  list.urls_ = std::move(urls);
  return list;
}

Result<std::vector<Url>> EndpointList::resolve() const {
  if (!from_dns()) return urls_;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(dns_name_.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return Error(Errc::unavailable, "cannot resolve " + dns_name_ + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  std::vector<Url> urls;
  for (addrinfo* a = found; a; a = a->ai_next) {
    char host[NI_MAXHOST];
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST) != 0) {
      continue;
    }
    Url u;
    u.scheme = "http";
    u.host = host;
    u.port = dns_port_;
    urls.push_back(std::move(u));
  }
  return canonical_members(std::move(urls));
}

std::string EndpointList::str() const {
  if (from_dns()) return "dns:" + dns_name_ + ":" + std::to_string(dns_port_);
  std::string out;
  for (const Url& u : urls_) out += (out.empty() ? "" : ",") + u.str();
  return out;
}

}  // namespace shoal
