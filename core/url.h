// Base URLs of Shoal components as given on the command line or in the environment
// (--origin http://127.0.0.1:4100, SHOAL_PEER=https://peer.local/shoal).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace shoal {

struct Url {
  std::string scheme;     // "http" or "https"
  std::string host;       // without brackets, also for IPv6 literals
  uint16_t port = 0;      // 80 or 443 unless given
  std::string base_path;  // "" or "/prefix", never a trailing slash

  // Accepts scheme://host[:port][/path]; no user info, query or fragment, since a
  // base URL with those would silently change the meaning of every request.
  static Result<Url> parse(std::string_view text);

  bool tls() const { return scheme == "https"; }
  bool default_port() const { return port == (tls() ? 443 : 80); }
  // 127.0.0.0/8, ::1 or localhost: a server on this host.
  bool loopback() const;
  // "host:port" with brackets for IPv6, as error messages name endpoints.
  std::string endpoint() const;
  // The Host header value: the port is left out when it is the scheme's default.
  std::string host_header() const;
  std::string str() const;
  // base_path + path; path is expected to start with '/'.
  std::string target(std::string_view path) const;
};

}  // namespace shoal
