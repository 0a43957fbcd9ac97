// Error responses every Shoal server shares: Shoal's error codes mapped to HTTP
// statuses and the JSON error document ({"error": CODE, "message": ...}).
#pragma once

#include <string_view>

#include "core/error.h"
#include "http/server.h"

namespace shoal::http {

// Sends the JSON error matching `err`; `not_found_code` names what was missing.
awaitable<void> respond_failure(Exchange& ex, const Error& err, std::string_view not_found_code);

// 405 with Allow listing the methods the route has.
awaitable<void> respond_method_not_allowed(Exchange& ex, std::string_view allow);

}  // namespace shoal::http
