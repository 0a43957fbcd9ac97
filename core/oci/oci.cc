#include "core/oci/oci.h"

#include <array>
#include <utility>

#include "core/text.h"

namespace shoal::oci {
namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
  size_t i = 0;
  while (true) {
    size_t run = i;
    while (i < c.size() && lower_alnum(c[i])) ++i;
    if (i == run) return false;  // empty, or a separator at the start or doubled
    if (i == c.size()) return true;
    size_t sep = i;
    while (i < c.size() && !lower_alnum(c[i])) ++i;
    std::string_view s = c.substr(sep, i - sep);
    bool dashes = s.find_first_not_of('-') == std::string_view::npos;
    if (!(s == "." || s == "_" || s == "__" || dashes)) return false;
    if (i == c.size()) return false;  // a separator at the end
  }
}

bool tag_char(char c) {
  return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
}

bool no_slash(std::string_view s) { return s.find('/') == std::string_view::npos; }

// The spec's codes for Shoal's where they differ; the rest pass through unchanged.
std::string_view translate(std::string_view code) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kMap{{
      {"UPLOAD_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"},
      {"DIGEST_MISMATCH", "DIGEST_INVALID"},
      {"TOO_LARGE", "SIZE_INVALID"},
      {"FORBIDDEN", "DENIED"},
      {"METHOD_NOT_ALLOWED", "UNSUPPORTED"},
      {"RATE_LIMITED", "TOOMANYREQUESTS"},
      {"RANGE_NOT_SATISFIABLE", "BLOB_UPLOAD_INVALID"},
  }};
  for (const auto& [from, to] : kMap) {
    if (code == from) return to;
  }
  return code;
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  while (true) {
    size_t slash = name.find('/');
    if (!valid_component(name.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    name = name.substr(slash + 1);
  }
}

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-') return false;
  for (char c : tag) {
    if (!tag_char(c)) return false;
  }
  return true;
}

std::optional<Route> parse_route(std::string_view path) {
  constexpr std::string_view kPrefix = "/v2/";
  if (path == "/v2" || path == kPrefix) return Route{Endpoint::base, {}, {}};
  if (!path.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());

  // Suffixes without a variable part first: "<name>/tags/list", "<name>/blobs/uploads/".
  for (auto [suffix, endpoint] :
       {std::pair{std::string_view("/tags/list"), Endpoint::tags},
        std::pair{std::string_view("/blobs/uploads/"), Endpoint::upload_new},
        std::pair{std::string_view("/blobs/uploads"), Endpoint::upload_new}}) {
    if (rest.ends_with(suffix) && rest.size() > suffix.size()) {
      return Route{endpoint, rest.substr(0, rest.size() - suffix.size()), {}};
    }
  }
  for (auto [marker, endpoint] :
       {std::pair{std::string_view("/blobs/uploads/"), Endpoint::upload},
        std::pair{std::string_view("/manifests/"), Endpoint::manifest},
        std::pair{std::string_view("/blobs/"), Endpoint::blob},
        std::pair{std::string_view("/referrers/"), Endpoint::referrers}}) {
    size_t at = rest.rfind(marker);
    if (at == std::string_view::npos || at == 0) continue;
    std::string_view arg = rest.substr(at + marker.size());
    if (arg.empty() || !no_slash(arg)) continue;
    return Route{endpoint, rest.substr(0, at), arg};
  }
  return std::nullopt;
}

std::string error_json(std::string_view code, std::string_view message) {
  return R"({"errors":[{"code":")" + text::json_escape(translate(code)) + R"(","message":")" +
         text::json_escape(message) + R"(","detail":{}}]})";
}

}  // namespace shoal::oci
