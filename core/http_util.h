// Small HTTP helpers shared by every server and client: JSON error bodies, query
// strings, percent-decoding. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shoal::http {

// Escapes a string for inclusion inside JSON double quotes.
std::string json_escape(std::string_view s);
// {"error":"CODE","message":"..."}
std::string error_json(std::string_view code, std::string_view message);
// 0-15 for a hex digit of either case, -1 for anything else.
int hex_digit(char c);
// Decodes %XX and '+' (as space in queries only when plus_as_space); nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space = false);
// Splits a path "/blobs/<rest>" into ("blobs", "<rest>"); ("", "") unless it starts with '/'.
std::pair<std::string_view, std::string_view> split_route(std::string_view path);
// The first value of `name` in an application/x-www-form-urlencoded query, decoded.
std::optional<std::string> find_query_param(std::string_view query, std::string_view name);

}  // namespace shoal::http
