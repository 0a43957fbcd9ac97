#include "origin/body.h"

#include <memory>
#include <optional>

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

}  // namespace

awaitable<Result<uint64_t>> stream_body(http::Exchange& ex, uint64_t limit, const BodySink& sink) {
  constexpr size_t kBuf = 1u << 20;
  std::unique_ptr<char[]> buf(new char[kBuf]);
  std::optional<PipelinedSink> pipeline;
  if (worth_pipelining(ex)) pipeline.emplace(sink, kBuf);
  uint64_t total = 0;
  for (;;) {
    auto n = co_await ex.read_body(std::span<char>(buf.get(), kBuf));
    if (!n) {
      // What arrived before the failure stays consumed (a resumable session keeps it).
      if (pipeline) (void)pipeline->finish();
      co_return n.error();
    }
    if (*n == 0) break;
    total += *n;
    if (total > limit) {
      if (pipeline) (void)pipeline->finish();
      co_return Error(Errc::too_large,
                      "body is over max_upload_size (" + std::to_string(limit) + " bytes)");
    }
    auto ok = pipeline ? pipeline->write(buf.get(), *n) : sink(buf.get(), *n);
    if (!ok) {
      if (pipeline) (void)pipeline->finish();
      co_return ok.error();
    }
  }
  if (pipeline) {
    if (auto ok = pipeline->finish(); !ok) co_return ok.error();
  }
  co_return total;
}

awaitable<void> respond_length_required(http::Exchange& ex) {
  co_await ex.respond_error(bhttp::status::length_required, "LENGTH_REQUIRED",
                            "uploads need Content-Length or Transfer-Encoding: chunked");
}

}  // namespace shoal::origin
