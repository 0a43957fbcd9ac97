#include "core/url.h"

#include <algorithm>

#include "core/text.h"

namespace shoal {
namespace {

Error bad_url(std::string_view text, std::string_view why) {
  return Error(Errc::bad_request, "invalid URL \"" + std::string(text) + "\": " + std::string(why));
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

std::string bracketed(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

// Splits "host[:port]" or "[v6][:port]" into host and port text (empty if absent).
Result<std::pair<std::string_view, std::string_view>> split_authority(std::string_view text,
                                                                      std::string_view auth) {
  if (auth.starts_with('[')) {
    size_t close = auth.find(']');
    if (close == std::string_view::npos) return bad_url(text, "unterminated IPv6 literal");
    std::string_view rest = auth.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return bad_url(text, "junk after IPv6 literal");
    return std::pair{auth.substr(1, close - 1), rest.empty() ? rest : rest.substr(1)};
  }
  size_t colon = auth.rfind(':');
  if (colon == std::string_view::npos) return std::pair{auth, std::string_view{}};
  return std::pair{auth.substr(0, colon), auth.substr(colon + 1)};
}

Result<uint16_t> parse_port(std::string_view text, std::string_view port) {
  auto value = text::parse_uint<unsigned>(port);
  if (!value || *value == 0 || *value > 65535) {
    return bad_url(text, "port must be a number from 1 to 65535");
  }
  return static_cast<uint16_t>(*value);
}

Result<void> check_host(std::string_view text, std::string_view host, bool v6) {
  if (host.empty()) return bad_url(text, "missing host");
  for (char c : host) {
    if (!valid_host_char(c) && !(v6 && (c == ':' || c == '%'))) {
      return bad_url(text, "invalid character in host");
    }
  }
  return {};
}

}  // namespace

Result<Url> Url::parse(std::string_view text) {
  Url url;
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad_url(text, "expected http://HOST[:PORT][/PATH]");
  url.scheme = std::string(text.substr(0, sep));
  for (char& c : url.scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (url.scheme != "http" && url.scheme != "https") {
    return bad_url(text, "scheme must be http or https");
  }
  std::string_view rest = text.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad_url(text, "a base URL cannot have a query or fragment");
  }
  size_t slash = rest.find('/');
  std::string_view auth = rest.substr(0, slash);
  if (auth.find('@') != std::string_view::npos) {
    return bad_url(text, "user info is not supported (use --token-file)");
  }
  auto parts = split_authority(text, auth);
  if (!parts) return parts.error();
  auto [host, port] = *parts;
  if (auto ok = check_host(text, host, auth.starts_with('[')); !ok) return ok.error();
  url.host = std::string(host);
  url.port = url.tls() ? 443 : 80;
  if (!port.empty() || auth.ends_with(':')) {
    auto p = parse_port(text, port);
    if (!p) return p.error();
    url.port = *p;
  }
  if (slash != std::string_view::npos) url.base_path = std::string(rest.substr(slash));
  while (url.base_path.ends_with('/')) url.base_path.pop_back();
  return url;
}

std::string Url::endpoint() const { return bracketed(host) + ":" + std::to_string(port); }

std::string Url::host_header() const { return default_port() ? bracketed(host) : endpoint(); }

bool Url::loopback() const {
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  return std::all_of(host.begin(), host.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

std::string Url::str() const { return scheme + "://" + host_header() + base_path; }

std::string Url::target(std::string_view path) const { return base_path + std::string(path); }

}  // namespace shoal
