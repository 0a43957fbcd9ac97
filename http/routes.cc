#include "http/routes.h"

namespace shoal::http {

std::optional<std::string_view> match_route(std::string_view pattern, std::string_view path) {
  size_t wild = pattern.find_first_of("*+");
  if (wild == std::string_view::npos) {
    if (pattern.ends_with("/?")) {
      pattern.remove_suffix(2);
      if (path.ends_with('/')) path.remove_suffix(1);
    }
    if (path == pattern) return std::string_view{};
    return std::nullopt;
  }
  std::string_view prefix = pattern.substr(0, wild);
  std::string_view suffix = pattern.substr(wild + 1);
  if (path.size() < prefix.size() + suffix.size()) return std::nullopt;
  if (!path.starts_with(prefix) || !path.ends_with(suffix)) return std::nullopt;
  std::string_view open = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (pattern[wild] == '+' && open.empty()) return std::nullopt;
  return open;
}

std::string allow_header(std::span<const bhttp::verb> methods) {
  std::string allow;
  for (bhttp::verb m : methods) {
    if (!allow.empty()) allow += ", ";
    auto name = bhttp::to_string(m);
    allow.append(name.data(), name.size());
  }
  return allow;
}

awaitable<void> respond_health(Exchange& ex) {
  co_await ex.respond_json(bhttp::status::ok, R"({"status":"ok"})");
}

awaitable<void> respond_no_route(Exchange& ex) {
  co_await ex.respond_error(bhttp::status::not_found, "NOT_FOUND",
                            "no route for " + std::string(ex.path()));
}

}  // namespace shoal::http
