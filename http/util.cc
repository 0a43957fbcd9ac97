#include "http/util.h"

#include "core/text.h"

namespace shoal::http {

std::string error_json(std::string_view code, std::string_view message) {
  return R"({"error":")" + text::json_escape(code) + R"(","message":")" +
         text::json_escape(message) + "\"}";
}

std::pair<std::string_view, std::string_view> split_route(std::string_view path) {
  if (path.empty() || path.front() != '/') return {"", ""};
  path.remove_prefix(1);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return {path, ""};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

std::optional<std::string> find_query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    auto key = text::percent_decode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return text::percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

}  // namespace shoal::http
