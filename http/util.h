// Small HTTP helpers shared by every server and client: JSON error bodies, routes and
// query strings (text helpers are in core/text.h). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shoal::http {

// {"error":"CODE","message":"..."}
std::string error_json(std::string_view code, std::string_view message);
// Splits a path "/blobs/<rest>" into ("blobs", "<rest>"); ("", "") unless it starts with '/'.
std::pair<std::string_view, std::string_view> split_route(std::string_view path);
// The first value of `name` in an application/x-www-form-urlencoded query, decoded.
std::optional<std::string> find_query_param(std::string_view query, std::string_view name);

}  // namespace shoal::http
