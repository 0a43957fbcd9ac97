// OCI blob uploads (/v2/<name>/blobs/uploads/...): monolithic POST, POST then PUT,
// chunked POST/PATCH/PUT, status, cancel, and cross-repository mounts. Sessions are
// the origin's own resumable uploads (UploadManager), so both APIs share one
// implementation of ordering, hashing and the verified commit.
#include "core/oci/oci.h"
#include "origin/body.h"
#include "origin/names.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;

std::string upload_path(std::string_view name, const std::string& id) {
  return "/v2/" + std::string(name) + "/blobs/uploads/" + id;
}

// Range is inclusive and "0-0" for an empty session (what clients of Docker's
// registry expect), so the first byte to send next is end + 1 only once data exists.
http::Head session_head(status st, std::string_view name, const std::string& id, uint64_t offset) {
  http::Head head;
  head.result(st);
  head.set(field::location, upload_path(name, id));
  head.set(field::range, "0-" + std::to_string(offset > 0 ? offset - 1 : 0));
  head.set("Docker-Upload-UUID", id);
  return head;
}

http::Head committed_head(std::string_view name, const Digest& d) {
  http::Head head;
  head.result(status::created);
  head.set(field::location, "/v2/" + std::string(name) + "/blobs/" + d.str());
  head.set("Docker-Content-Digest", d.str());
  return head;
}

}  // namespace

awaitable<void> Origin::registry_upload_start(http::Exchange& ex, std::string_view name) {
  // A mount needs nothing copied when the origin holds the blob (one store for all
  // repositories); otherwise it is declined with a new session, as the spec says.
  if (auto mount = ex.query_param("mount")) {
    auto d = Digest::parse(*mount);
    if (d && store_->contains(*d)) co_return co_await ex.respond(committed_head(name, *d), "");
  }
  if (auto ok = quorum_possible(ex, nullptr); !ok) co_return co_await respond_failure(ex, ok.error(), "");
  auto id = uploads_.create(Clock::now());
  if (!id) co_return co_await respond_failure(ex, id.error(), "");
  if (!ex.query_param("digest")) {
    co_return co_await ex.respond(session_head(status::accepted, name, *id, 0), "");
  }
  // Monolithic: the body is the whole blob and ?digest= commits it.
  co_await registry_chunk(ex, name, *id, true);
  if (ex.status() != status::created) (void)uploads_.remove(*id);
}

awaitable<void> Origin::registry_upload(http::Exchange& ex, std::string_view name,
                                        std::string_view id_text) {
  std::string id(id_text);
  if (!valid_upload_id(id)) {
    co_return co_await ex.respond_error(status::not_found, "BLOB_UPLOAD_UNKNOWN",
                                        "no upload session " + id);
  }
  const verb m = ex.method();
  if (m == verb::get || m == verb::head) {
    auto offset = uploads_.offset(id, Clock::now());
    if (!offset) co_return co_await respond_failure(ex, offset.error(), "BLOB_UPLOAD_UNKNOWN");
    co_return co_await ex.respond(session_head(status::no_content, name, id, *offset), "");
  }
  if (m == verb::patch) co_return co_await registry_chunk(ex, name, id, false);
  if (m == verb::put) co_return co_await registry_chunk(ex, name, id, true);
  if (m == verb::delete_) {
    auto ok = uploads_.remove(id);
    if (!ok) co_return co_await respond_failure(ex, ok.error(), "BLOB_UPLOAD_UNKNOWN");
    http::Head head;
    head.result(status::no_content);
    co_return co_await ex.respond(std::move(head), "");
  }
  co_await respond_method_not_allowed(ex, "GET, HEAD, PATCH, PUT, DELETE");
}

awaitable<void> Origin::registry_chunk(http::Exchange& ex, std::string_view name,
                                       const std::string& id, bool commit) {
  std::optional<Digest> digest;
  if (commit) {
    auto d = commit_digest(ex);
    if (!d)
      co_return co_await ex.respond_error(status::bad_request, "DIGEST_INVALID", d.error().message);
    digest = *d;
  }
  auto offset = co_await receive_chunk(ex, id, digest);
  if (!offset && offset.error().is(Errc::range_not_satisfiable)) {
    // The client needs the session's offset to resume; the unread chunk is dropped.
    auto at = uploads_.offset(id, Clock::now());
    if (!at) co_return co_await respond_failure(ex, at.error(), "BLOB_UPLOAD_UNKNOWN");
    ex.close_connection();
    http::Head head = session_head(status::range_not_satisfiable, name, id, *at);
    head.set(field::content_type, "application/json");
    co_return co_await ex.respond(std::move(head),
                                  ex.error_body("BLOB_UPLOAD_INVALID", offset.error().message));
  }
  if (!offset && offset.error().is(Errc::bad_request)) {
    co_return co_await ex.respond_error(status::bad_request, "BLOB_UPLOAD_INVALID",
                                        offset.error().message);
  }
  if (!offset) co_return co_await respond_failure(ex, offset.error(), "BLOB_UPLOAD_UNKNOWN");
  if (!commit) co_return co_await ex.respond(session_head(status::accepted, name, id, *offset), "");
  co_await ex.respond(committed_head(name, *digest), "");
}

}  // namespace shoal::origin
