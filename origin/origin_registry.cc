// OCI Distribution routes on the origin (/v2/): manifests, tag lists and blob reads.
// Layers and manifests are ordinary blobs in the one store; "<name>:<tag>" is an
// ordinary tag; RepoIndex adds what only the registry needs. Uploads are in
// origin_registry_uploads.cc, deletes and referrers in origin_registry_lifecycle.cc.
//
// In a ring, "<name>:<tag>" lives on its owners like any tag and manifests are blobs
// copied to theirs, so a push through one origin resolves through every other. The
// RepoIndex markers stay on the origin that took the push: elsewhere a repository
// without markers is looked up in the ring instead of being NAME_UNKNOWN, and
// tags/list answers what this origin saw pushed (docs/ARCHITECTURE.md, "Tags in a ring").
#include "http/offload.h"
#include "http/outbound.h"
#include "http/util.h"
#include "core/log.h"
#include "core/text.h"
#include "core/oci/oci.h"
#include "http/oci_response.h"
#include "core/oci/manifest.h"
#include "origin/body.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;

std::string manifest_path(std::string_view name, const Digest& d) {
  return "/v2/" + std::string(name) + "/manifests/" + d.str();
}

// The ordinary tag an OCI tag is kept under.
std::string oci_tag(std::string_view name, std::string_view tag) {
  return std::string(name) + ":" + std::string(tag);
}

awaitable<void> respond_oci(http::Exchange& ex, status st, std::string_view code,
                            std::string_view message) {
  co_await ex.respond_error(st, code, message);
}

}  // namespace

awaitable<void> Origin::registry(http::Exchange& ex) {
  auto route = oci::parse_route(ex.path());
  if (!route)
    co_return co_await respond_oci(ex, status::not_found, "NOT_FOUND", "no such registry route");
  const verb m = ex.method();
  if (route->endpoint == oci::Endpoint::base) {
    if (m != verb::get && m != verb::head)
      co_return co_await respond_method_not_allowed(ex, "GET, HEAD");
    co_return co_await oci::respond_api_base(ex);
  }
  if (!oci::valid_name(route->name)) {
    co_return co_await respond_oci(ex, status::bad_request, "NAME_INVALID",
                                   "invalid repository name \"" + std::string(route->name) + "\"");
  }
  switch (route->endpoint) {
    case oci::Endpoint::manifest: co_return co_await manifests(ex, route->name, route->arg);
    case oci::Endpoint::tags:
      if (m != verb::get && m != verb::head)
        co_return co_await respond_method_not_allowed(ex, "GET, HEAD");
      co_return co_await tag_list(ex, route->name);
    case oci::Endpoint::blob:
      // Blobs are content-addressed and shared by every repository: any repository
      // can read any blob the origin holds (Kraken's model; a push skips the upload).
      if (m == verb::get || m == verb::head) {
        if (auto pulled = co_await pull_blob(ex, route->name, route->arg); !pulled)
          co_return co_await respond_failure(ex, pulled.error(), "BLOB_UNKNOWN");
        co_return co_await get_blob(ex, route->arg);
      }
      if (m == verb::delete_) co_return co_await delete_registry_blob(ex, route->arg);
      co_return co_await respond_method_not_allowed(ex, "GET, HEAD, DELETE");
    case oci::Endpoint::upload_new:
      if (m != verb::post) co_return co_await respond_method_not_allowed(ex, "POST");
      co_return co_await registry_upload_start(ex, route->name);
    case oci::Endpoint::upload: co_return co_await registry_upload(ex, route->name, route->arg);
    case oci::Endpoint::referrers:
      if (m != verb::get && m != verb::head)
        co_return co_await respond_method_not_allowed(ex, "GET, HEAD");
      co_return co_await referrers(ex, route->name, route->arg);
    case oci::Endpoint::base: break;
  }
  co_await respond_oci(ex, status::not_found, "NOT_FOUND", "no such registry route");
}

awaitable<void> Origin::manifests(http::Exchange& ex, std::string_view name, std::string_view ref) {
  const verb m = ex.method();
  if (m == verb::get || m == verb::head) co_return co_await get_manifest(ex, name, ref);
  if (m == verb::put) co_return co_await put_manifest(ex, name, ref);
  if (m == verb::delete_ && !oci::is_digest_reference(ref)) {
    if (!repos_.exists(name) && !cluster_.enabled()) {
      co_return co_await respond_oci(ex, status::not_found, "NAME_UNKNOWN",
                                     "no repository " + std::string(name));
    }
    // Not `?:` around co_await: GCC 12 destroys the temporary twice.
    Result<TagRecord> gone = Error(Errc::not_found, "");
    if (oci::valid_tag(ref)) gone = co_await write_tag(oci_tag(name, ref), TagChange{}, false);
    if (!gone && !gone.error().is(Errc::not_found))
      co_return co_await respond_failure(ex, gone.error(), "");
    if (!gone)
      co_return co_await respond_oci(ex, status::not_found, "MANIFEST_UNKNOWN",
                                     "no tag " + std::string(ref));
    // The marker is only on origins that took a push of the tag.
    if (auto ok = repos_.remove_tag(name, ref); !ok && !ok.error().is(Errc::not_found))
      co_return co_await respond_failure(ex, ok.error(), "");
    http::Head head;
    head.result(status::accepted);
    co_return co_await ex.respond(std::move(head), "");
  }
  if (m == verb::delete_) co_return co_await delete_manifest(ex, name, ref);
  co_await respond_method_not_allowed(ex, "GET, HEAD, PUT, DELETE");
}

// The manifest digest `ref` names in repository `name`. Tags are resolved in the ring
// by get_manifest. In a ring the marker may be on the origin that took the push: the
// manifest's blob, wherever it is, decides.
Result<Digest> Origin::resolve_manifest(std::string_view name, std::string_view ref) const {
  auto d = Digest::parse(ref);
  if (!d) return d.error();
  if (!repos_.has_manifest(name, *d) && !cluster_.enabled()) {
    return Error(Errc::not_found, "no manifest " + std::string(ref) + " in " + std::string(name));
  }
  return *d;
}

awaitable<Result<std::string>> Origin::manifest_bytes(const Digest& d) {
  auto local = read_small_file(store_->path_of(d), oci::kMaxManifestBytes);
  if (local || !cluster_.enabled()) co_return local;
  auto fetched = co_await http::outbound([&] { return from_owners(d, "/blobs/" + d.str()); });
  if (fetched && Sha256::of(fetched->data(), fetched->size()) != d) {
    co_return Error(Errc::digest_mismatch, "another origin's copy of " + d.str() + " is corrupt");
  }
  co_return fetched;
}

awaitable<void> Origin::get_manifest(http::Exchange& ex, std::string_view name,
                                     std::string_view ref) {
  if (auto pulled = co_await pull_manifest(ex, name, ref); !pulled)
    co_return co_await respond_failure(ex, pulled.error(), "MANIFEST_UNKNOWN");
  if (!repos_.exists(name) && !cluster_.enabled()) {
    co_return co_await respond_oci(ex, status::not_found, "NAME_UNKNOWN",
                                   "no repository " + std::string(name));
  }
  Result<Digest> d = Error(Errc::not_found, "no manifest " + std::string(ref) + " in " +
                                                std::string(name));
  if (oci::is_digest_reference(ref)) {
    d = resolve_manifest(name, ref);
  } else if (oci::valid_tag(ref)) {
    auto rec = co_await read_tag(oci_tag(name, ref));
    if (!rec) co_return co_await respond_failure(ex, rec.error(), "MANIFEST_UNKNOWN");
    if (rec->digest) d = *rec->digest;
  }
  if (!d) co_return co_await respond_failure(ex, d.error(), "MANIFEST_UNKNOWN");
  auto body = co_await manifest_bytes(*d);
  if (!body) co_return co_await respond_failure(ex, body.error(), "MANIFEST_UNKNOWN");
  http::Head head;
  head.result(status::ok);
  head.set(field::content_type, oci::manifest_media_type(*body));
  head.set("Docker-Content-Digest", d->str());
  head.set(field::etag, "\"" + d->str() + "\"");
  co_await ex.respond(std::move(head), *body);
}

awaitable<void> Origin::put_manifest(http::Exchange& ex, std::string_view name,
                                     std::string_view ref) {
  const bool by_digest = oci::is_digest_reference(ref);
  if (!by_digest && !oci::valid_tag(ref)) {
    co_return co_await respond_oci(ex, status::bad_request, "TAG_INVALID",
                                   "invalid tag \"" + std::string(ref) + "\"");
  }
  if (!ex.length_known()) co_return co_await respond_length_required(ex);
  std::string body;
  const BodySink sink = [&](const char* p, size_t n) {
    body.append(p, n);
    return Result<void>();
  };
  auto received = co_await stream_body(ex, oci::kMaxManifestBytes, sink);
  if (!received) co_return co_await respond_failure(ex, received.error(), "");
  const Digest digest = Sha256::of(body.data(), body.size());
  if (by_digest && ref != digest.str()) {
    co_return co_await respond_oci(ex, status::bad_request, "DIGEST_INVALID",
                                   "the manifest's bytes hash to " + digest.str());
  }
  auto manifest = oci::parse_manifest(body, ex.header(field::content_type));
  if (!manifest)
    co_return co_await respond_oci(ex, status::bad_request, "MANIFEST_INVALID",
                                   manifest.error().message);
  std::vector<Digest> referenced = manifest->blobs;
  referenced.insert(referenced.end(), manifest->manifests.begin(), manifest->manifests.end());
  // Touched: a garbage collection running now keeps them (ARCHITECTURE, "Garbage collection").
  for (const Digest& d : referenced) {
    if (!co_await hold_for_push(d)) {
      co_return co_await respond_oci(
          ex, status::bad_request, "MANIFEST_BLOB_UNKNOWN",
          "the manifest refers to " + d.str() + ", which was not pushed");
    }
  }
  auto store_manifest = [&]() -> Result<void> {
    auto temp = store_->create_temp();
    if (!temp) return temp.error();
    if (auto ok = temp->append(body.data(), body.size()); !ok) return ok;
    if (auto ok = commit_touched(*temp, digest); !ok) return ok;
    if (manifest->subject) {
      if (auto ok = repos_.add_referrer(name, *manifest->subject, digest); !ok) return ok;
    }
    return repos_.add_manifest(name, digest);
  };
  auto stored = co_await http::offload(store_manifest);
  if (!stored) co_return co_await respond_failure(ex, stored.error(), "");
  // On its owners before any tag points at it (a no-op alone).
  auto copied = co_await replicate(ex, digest);
  if (!copied) co_return co_await respond_failure(ex, copied.error(), "");
  if (!by_digest) {
    auto tagged = co_await write_tag(oci_tag(name, ref), TagChange{digest, {}}, false);
    if (!tagged) co_return co_await respond_failure(ex, tagged.error(), "");
    auto marked = co_await http::offload([&] { return repos_.add_tag(name, ref); });
    if (!marked) co_return co_await respond_failure(ex, marked.error(), "");
  }
  on_committed(digest);
  log::info("manifest pushed", {{"name", name}, {"reference", ref}, {"digest", digest.str()}});
  http::Head head;
  head.result(status::created);
  head.set(field::location, manifest_path(name, digest));
  head.set("Docker-Content-Digest", digest.str());
  if (manifest->subject) head.set("OCI-Subject", manifest->subject->str());
  co_await ex.respond(std::move(head), "");
}

awaitable<void> Origin::tag_list(http::Exchange& ex, std::string_view name) {
  if (!repos_.exists(name)) {
    co_return co_await respond_oci(ex, status::not_found, "NAME_UNKNOWN",
                                   "no repository " + std::string(name));
  }
  size_t limit = SIZE_MAX;
  if (auto n = ex.query_param("n")) {
    auto parsed = text::parse_uint<size_t>(*n);
    if (!parsed)
      co_return co_await respond_oci(ex, status::bad_request, "PAGINATION_NUMBER_INVALID",
                                     "n must be a number");
    limit = *parsed;
  }
  std::string last = ex.query_param("last").value_or("");
  auto page = repos_.tags(name, last, limit);
  std::string json = R"({"name":")" + std::string(name) + R"(","tags":[)";
  for (size_t i = 0; i < page.tags.size(); ++i) {
    json += (i ? ",\"" : "\"") + page.tags[i] + "\"";  // the tag grammar needs no escaping
  }
  json += "]}";
  http::Head head;
  head.result(status::ok);
  head.set(field::content_type, "application/json");
  if (page.more && !page.tags.empty()) {
    head.set(field::link, "</v2/" + std::string(name) + "/tags/list?n=" + std::to_string(limit) +
                              "&last=" + page.tags.back() + ">; rel=\"next\"");
  }
  co_await ex.respond(std::move(head), json);
}

}  // namespace shoal::origin
