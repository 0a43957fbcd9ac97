// Serving one client from a Fill (http/fill.h): waits until the fill knows the blob's
// size, then streams its bytes as they become visible. Shared by the edge (cache
// misses) and the origins of a ring (a blob this origin does not hold).
#pragma once

#include <memory>
#include <optional>

#include "http/blob_response.h"
#include "http/exchange.h"
#include "http/fill.h"

namespace shoal::http {

// nullopt when the fill failed before the first byte: the error response has been
// sent then. Otherwise how the streamed body ended (source_failed: stopped short).
awaitable<std::optional<StreamEnd>> respond_fill(Exchange& ex, Head head,
                                                 std::shared_ptr<Fill> fill);

}  // namespace shoal::http
