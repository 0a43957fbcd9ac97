// Streaming a request body into a sink, with the size limit and error mapping shared
// by monolithic uploads and upload chunks.
#pragma once

#include <functional>

#include "core/error.h"
#include "http/failure.h"
#include "http/server.h"

namespace shoal::origin {

using BodySink = std::function<Result<void>(const char* data, size_t len)>;

// Reads the whole body into `sink` through one 1 MiB buffer. Errc::too_large once more
// than `limit` bytes arrive; client errors (disconnect, stall) come back as io_error
// or timed_out with what had been passed to the sink kept.
awaitable<Result<uint64_t>> stream_body(http::Exchange& ex, uint64_t limit, const BodySink& sink);

using http::respond_failure;
using http::respond_method_not_allowed;

// 411: an upload without Content-Length or chunked encoding.
awaitable<void> respond_length_required(http::Exchange& ex);

}  // namespace shoal::origin
