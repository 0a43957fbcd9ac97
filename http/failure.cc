#include "http/failure.h"

#include "http/util.h"
#include "core/log.h"

namespace shoal::http {

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
    case Errc::range_not_satisfiable:
      return {bhttp::status::range_not_satisfiable, "RANGE_NOT_SATISFIABLE"};
    case Errc::too_large: return {bhttp::status::payload_too_large, "TOO_LARGE"};
    case Errc::disk_full: return {bhttp::status::insufficient_storage, "DISK_FULL"};
    case Errc::conflict: return {bhttp::status::conflict, "CONFLICT"};
    case Errc::timed_out: return {bhttp::status::request_timeout, "TIMEOUT"};
    case Errc::unauthorized: return {bhttp::status::unauthorized, "UNAUTHORIZED"};
    case Errc::forbidden: return {bhttp::status::forbidden, "FORBIDDEN"};
    // A server that fetches from another one (the peer agent) passes its failures on.
    case Errc::unavailable: return {bhttp::status::bad_gateway, "UPSTREAM_UNAVAILABLE"};
    case Errc::protocol_error: return {bhttp::status::bad_gateway, "UPSTREAM_INVALID"};
    case Errc::no_quorum: return {bhttp::status::service_unavailable, "QUORUM_UNAVAILABLE"};
    case Errc::precondition_failed:
      return {bhttp::status::precondition_failed, "PRECONDITION_FAILED"};
    default: return {bhttp::status::internal_server_error, "INTERNAL"};
  }
}

}  // namespace

awaitable<void> respond_failure(Exchange& ex, const Error& err, std::string_view not_found_code) {
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

awaitable<void> respond_method_not_allowed(Exchange& ex, std::string_view allow) {
  http::Head head;
  head.result(bhttp::status::method_not_allowed);
  head.set(bhttp::field::allow, std::string(allow));
  head.set(bhttp::field::content_type, "application/json");
  co_await ex.respond(std::move(head), ex.error_body("METHOD_NOT_ALLOWED",
                                                        "allowed methods: " + std::string(allow)));
}

}  // namespace shoal::http
