#include "origin/body.h"

#include <memory>
#include <optional>

#include "core/http_util.h"
#include "core/log.h"
#include "core/pipelined_sink.h"

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
      co_return Error(Errc::too_large, "body is over max_upload_size (" + std::to_string(limit) + " bytes)");
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

namespace {

struct Mapping {
  bhttp::status status;
  std::string_view code;
};

Mapping map_error(const Error& err, std::string_view not_found_code) {
  switch (static_cast<Errc>(err.code.value())) {
    case Errc::malformed_digest: return {bhttp::status::bad_request, "DIGEST_INVALID"};
    case Errc::digest_mismatch: return {bhttp::status::bad_request, "DIGEST_MISMATCH"};
    case Errc::bad_request: return {bhttp::status::bad_request, "BAD_REQUEST"};
    case Errc::not_found: return {bhttp::status::not_found, not_found_code};
    case Errc::range_not_satisfiable: return {bhttp::status::range_not_satisfiable, "RANGE_NOT_SATISFIABLE"};
    case Errc::too_large: return {bhttp::status::payload_too_large, "TOO_LARGE"};
    case Errc::disk_full: return {bhttp::status::insufficient_storage, "DISK_FULL"};
    case Errc::conflict: return {bhttp::status::conflict, "CONFLICT"};
    case Errc::timed_out: return {bhttp::status::request_timeout, "TIMEOUT"};
    case Errc::unauthorized: return {bhttp::status::unauthorized, "UNAUTHORIZED"};
    case Errc::forbidden: return {bhttp::status::forbidden, "FORBIDDEN"};
    default: return {bhttp::status::internal_server_error, "INTERNAL"};
  }
}

}  // namespace

awaitable<void> respond_failure(http::Exchange& ex, const Error& err, std::string_view not_found_code) {
  if (err.code.category() != shoal_category()) {
    log::error("request failed", {{"path", ex.path()}, {"error", err.message}});
    co_await ex.respond_error(bhttp::status::internal_server_error, "INTERNAL", err.message);
    co_return;
  }
  Mapping m = map_error(err, not_found_code);
  if (m.status == bhttp::status::internal_server_error) {
    log::error("request failed", {{"path", ex.path()}, {"error", err.message}});
  }
  if (err.is(Errc::too_large) || err.is(Errc::timed_out) || err.is(Errc::io_error)) {
    ex.close_connection();  // the rest of the body is not worth reading
  }
  co_await ex.respond_error(m.status, m.code, err.message);
}

awaitable<void> respond_method_not_allowed(http::Exchange& ex, std::string_view allow) {
  http::Head head;
  head.result(bhttp::status::method_not_allowed);
  head.set(bhttp::field::allow, std::string(allow));
  head.set(bhttp::field::content_type, "application/json");
  co_await ex.respond(std::move(head),
                      http::error_json("METHOD_NOT_ALLOWED", "allowed methods: " + std::string(allow)));
}

awaitable<void> respond_length_required(http::Exchange& ex) {
  co_await ex.respond_error(bhttp::status::length_required, "LENGTH_REQUIRED",
                            "uploads need Content-Length or Transfer-Encoding: chunked");
}

}  // namespace shoal::origin
