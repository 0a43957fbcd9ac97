#include "origin/body.h"

#include <memory>

#include "http/util.h"
#include "core/log.h"
#include "core/store/pipelined_sink.h"

namespace shoal::origin {

namespace {

// Bodies at least this large are consumed on a second thread (PipelinedSink): the
// thread costs less than the overlap of receiving with hashing and writing gains.
constexpr uint64_t kPipelineThreshold = 4u << 20;

bool worth_pipelining(const http::Exchange& ex) {
  return ex.chunked() || ex.content_length().value_or(0) >= kPipelineThreshold;
}

Error over_limit(uint64_t limit) {
  return Error(Errc::too_large, "body is over max_upload_size (" + std::to_string(limit) + " bytes)");
}

// Large bodies: received straight into the pipeline's free buffer, so each byte is
// copied once (socket to buffer) before the worker hashes and writes it.
awaitable<Result<uint64_t>> stream_pipelined(http::Exchange& ex, uint64_t limit,
                                             const BodySink& sink, size_t buffer_size) {
  PipelinedSink pipeline(sink, buffer_size);
  uint64_t total = 0;
  for (bool end = false; !end;) {
    auto slot = pipeline.acquire();
    if (!slot) co_return slot.error();
    // Filled before it is handed over: one hand-off per buffer, not per read.
    size_t filled = 0;
    while (filled < slot->size()) {
      auto n = co_await ex.read_body(slot->subspan(filled));
      if (!n || total + filled + *n > limit) {
        // What arrived before the failure stays consumed (a resumable session keeps
        // it): the pipeline's destructor waits for it.
        (void)pipeline.commit(filled);
        if (!n) co_return n.error();
        co_return over_limit(limit);
      }
      if (*n == 0) {
        end = true;
        break;
      }
      filled += *n;
    }
    total += filled;
    if (auto ok = pipeline.commit(filled); !ok) co_return ok.error();
  }
  if (auto ok = pipeline.finish(); !ok) co_return ok.error();
  co_return total;
}

}  // namespace

awaitable<Result<uint64_t>> stream_body(http::Exchange& ex, uint64_t limit, const BodySink& sink) {
  constexpr size_t kBuf = 1u << 20;
  if (worth_pipelining(ex)) co_return co_await stream_pipelined(ex, limit, sink, kBuf);
  std::unique_ptr<char[]> buf(new char[kBuf]);
  uint64_t total = 0;
  for (;;) {
    auto n = co_await ex.read_body(std::span<char>(buf.get(), kBuf));
    if (!n) co_return n.error();
    if (*n == 0) break;
    total += *n;
    if (total > limit) co_return over_limit(limit);
    if (auto ok = sink(buf.get(), *n); !ok) co_return ok.error();
  }
  co_return total;
}

awaitable<void> respond_length_required(http::Exchange& ex) {
  co_await ex.respond_error(bhttp::status::length_required, "LENGTH_REQUIRED",
                            "uploads need Content-Length or Transfer-Encoding: chunked");
}

}  // namespace shoal::origin
