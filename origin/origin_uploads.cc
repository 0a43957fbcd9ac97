// Resumable upload routes: POST /uploads, GET|PATCH|PUT|DELETE /uploads/<id>.
#include "http/offload.h"
#include "http/outbound.h"
#include "http/range.h"
#include "http/util.h"
#include "core/log.h"
#include "origin/body.h"
#include "origin/names.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;

http::Head session_head(status st, const std::string& id, uint64_t offset) {
  http::Head head;
  head.result(st);
  head.set(field::location, "/uploads/" + id);
  head.set("Upload-Offset", std::to_string(offset));
  if (offset > 0) head.set(field::range, "0-" + std::to_string(offset - 1));
  head.set(field::content_type, "application/json");
  return head;
}

std::string session_json(const std::string& id, uint64_t offset) {
  return R"({"id":")" + id + R"(","offset":)" + std::to_string(offset) + "}";
}

}  // namespace

awaitable<void> Origin::uploads(http::Exchange& ex, std::string_view rest) {
  const verb m = ex.method();
  if (rest.empty()) {
    if (m == verb::post) co_return co_await upload_create(ex);
    co_return co_await respond_method_not_allowed(ex, "POST");
  }
  std::string id(rest);
  if (!valid_upload_id(id)) {
    co_return co_await ex.respond_error(status::not_found, "UPLOAD_UNKNOWN",
                                        "upload ids are 32 lowercase hex characters");
  }
  if (m == verb::get || m == verb::head) co_return co_await upload_status(ex, id);
  if (m == verb::patch) co_return co_await upload_patch(ex, id, false);
  if (m == verb::put) co_return co_await upload_patch(ex, id, true);
  if (m == verb::delete_) {
    auto ok = uploads_.remove(id);
    if (!ok) co_return co_await respond_failure(ex, ok.error(), "UPLOAD_UNKNOWN");
    http::Head head;
    head.result(status::no_content);
    co_return co_await ex.respond(std::move(head), "");
  }
  co_await respond_method_not_allowed(ex, "GET, HEAD, PATCH, PUT, DELETE");
}

awaitable<void> Origin::upload_create(http::Exchange& ex) {
  if (auto ok = quorum_possible(ex, nullptr); !ok) co_return co_await respond_failure(ex, ok.error(), "");
  if (auto given = ex.query_param("id"); given && is_replica_write(ex)) {
    // Another origin's session, mirrored here under its id (origin_mirror.cc).
    std::string id(*given);
    if (!valid_upload_id(id)) {
      co_return co_await ex.respond_error(status::bad_request, "UPLOAD_INVALID", "bad id");
    }
    auto made = uploads_.create_as(id, Clock::now());
    if (!made) co_return co_await respond_failure(ex, made.error(), "");
    co_return co_await ex.respond(session_head(status::accepted, id, 0), session_json(id, 0));
  }
  auto id = uploads_.create(Clock::now());
  if (!id) co_return co_await respond_failure(ex, id.error(), "");
  co_await ex.respond(session_head(status::accepted, *id, 0), session_json(*id, 0));
}

awaitable<void> Origin::upload_status(http::Exchange& ex, const std::string& id) {
  auto offset = uploads_.offset(id, Clock::now());
  if (!offset) co_return co_await respond_failure(ex, offset.error(), "UPLOAD_UNKNOWN");
  co_await ex.respond(session_head(status::ok, id, *offset), session_json(id, *offset));
}

awaitable<void> Origin::upload_range_error(http::Exchange& ex, const std::string& id,
                                           const std::string& message) {
  // The client needs the offset to resume; the unread chunk is not worth draining.
  auto at = uploads_.offset(id, Clock::now());
  if (!at) co_return co_await respond_failure(ex, at.error(), "UPLOAD_UNKNOWN");
  ex.close_connection();
  co_await ex.respond(session_head(status::range_not_satisfiable, id, *at),
                      ex.error_body("RANGE_NOT_SATISFIABLE", message));
}

awaitable<void> Origin::upload_patch(http::Exchange& ex, const std::string& id, bool commit) {
  if (!commit && !ex.length_known()) co_return co_await respond_length_required(ex);
  std::optional<Digest> digest;
  if (commit) {
    auto d = commit_digest(ex);
    if (!d) co_return co_await respond_failure(ex, d.error(), "");
    digest = *d;
  }
  auto offset = co_await receive_chunk(ex, id, digest);
  if (!offset) {
    if (offset.error().is(Errc::range_not_satisfiable)) {
      co_return co_await upload_range_error(ex, id, offset.error().message);
    }
    co_return co_await respond_failure(ex, offset.error(), "UPLOAD_UNKNOWN");
  }
  if (!commit) {
    co_return co_await ex.respond(session_head(status::accepted, id, *offset),
                                  session_json(id, *offset));
  }
  http::Head head;
  head.result(status::created);
  head.set(field::location, "/blobs/" + digest->str());
  head.set("Docker-Content-Digest", digest->str());
  head.set(field::content_type, "application/json");
  co_await ex.respond(std::move(head), R"({"digest":")" + digest->str() + "\"}");
}

Result<Digest> Origin::commit_digest(const http::Exchange& ex) {
  auto text = ex.query_param("digest");
  if (!text) return Error(Errc::malformed_digest, "commit needs ?digest=sha256:<hex>");
  return Digest::parse(*text);
}

awaitable<Result<uint64_t>> Origin::receive_chunk(http::Exchange& ex, const std::string& id,
                                                  const std::optional<Digest>& digest) {
  std::optional<http::ByteRange> range;
  if (auto cr = ex.header(field::content_range); !cr.empty()) {
    range = http::parse_content_range(cr);
    if (!range) {
      co_return Error(Errc::bad_request,
                      "Content-Range must look like \"bytes 0-1023/*\" or \"0-1023\"");
    }
    if (ex.content_length() && range->length() != *ex.content_length()) {
      co_return Error(Errc::range_not_satisfiable,
                      "Content-Range covers " + std::to_string(range->length()) +
                          " bytes but the body has " + std::to_string(*ex.content_length()));
    }
  }
  auto lease = uploads_.acquire(id, range, Clock::now());
  if (!lease) co_return lease.error();
  const BodySink sink = [&](const char* p, size_t n) { return lease->append(p, n); };
  auto received = co_await stream_body(ex, opts_.max_upload_size, sink);
  const uint64_t offset = lease->offset();
  const bool mirrored = cluster_.enabled() && !is_replica_write(ex);
  if (!received || !digest) {
    // The session is free again before the client hears from us: its next request
    // must not find it busy, and GET must see the new offset.
    lease->release();
    if (mirrored && offset > 0) mirror_later(id, offset);
    if (!received) co_return received.error();
    co_return offset;
  }
  std::optional<Url> mirror;
  if (mirrored) {
    auto finish = [&] { return finish_mirror(id, offset, *digest); };
    auto ok = co_await http::outbound(finish);
    if (ok) {
      mirror = *ok;
    } else {
      log::info("upload committed without its mirror", {{"upload", id},
                                                        {"error", ok.error().message}});
    }
  }
  auto commit_upload = [&] { return uploads_.commit(*lease, *digest, *store_); };
  auto placed = co_await http::offload(commit_upload);
  if (!placed) co_return placed.error();
  on_committed(*digest);
  if (auto copied = co_await replicate(ex, *digest, mirror); !copied) co_return copied.error();
  co_return offset;
}

}  // namespace shoal::origin
