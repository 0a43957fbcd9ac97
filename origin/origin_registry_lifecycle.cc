// OCI content management and discovery on the origin: DELETE of manifests (by digest;
// by tag in origin_registry.cc) and of blobs, and the OCI 1.1 referrers API.
//
// In a ring the repository markers (manifests, tags, referrers) are on the origin that
// took the push: a delete or a referrers query is answered by every origin for its own
// markers (asked with the replica header) and the answers are combined.
#include <nlohmann/json.hpp>

#include "core/oci/manifest.h"
#include "core/oci/oci.h"
#include "http/outbound.h"
#include "http/util.h"
#include "origin/origin.h"
#include "origin/referrers.h"

namespace shoal::origin {
namespace {

using bhttp::status;
using nlohmann::json;

std::string oci_tag(std::string_view name, std::string_view tag) {
  return std::string(name) + ":" + std::string(tag);
}

awaitable<void> respond_accepted(http::Exchange& ex) {
  http::Head head;
  head.result(status::accepted);
  co_await ex.respond(std::move(head), "");
}

}  // namespace

awaitable<void> Origin::delete_manifest(http::Exchange& ex, std::string_view name,
                                        std::string_view ref) {
  auto d = Digest::parse(ref);
  if (!d) co_return co_await ex.respond_error(status::bad_request, "DIGEST_INVALID",
                                              d.error().message);
  auto here = co_await delete_manifest_here(std::string(name), *d);
  if (!here && !here.error().is(Errc::not_found))
    co_return co_await respond_failure(ex, here.error(), "");
  bool found = static_cast<bool>(here);
  if (cluster_.enabled() && !is_replica_write(ex)) {
    const std::string path = "/v2/" + std::string(name) + "/manifests/" + d->str();
    auto others = co_await http::outbound([&] { return ask_members("DELETE", path); });
    if (!others) co_return co_await respond_failure(ex, others.error(), "");
    for (const http::Response& r : *others) found |= r.status == 202;
  }
  if (!found) {
    co_return co_await ex.respond_error(status::not_found, "MANIFEST_UNKNOWN",
                                        "no manifest " + d->str() + " in " + std::string(name));
  }
  // The manifest's blob stays until garbage collection: another repository may hold it.
  co_await respond_accepted(ex);
}

awaitable<Result<void>> Origin::delete_manifest_here(std::string name, Digest d) {
  if (!repos_.has_manifest(name, d))
    co_return Error(Errc::not_found, "no manifest " + d.str() + " in " + name);
  if (auto bytes = co_await manifest_bytes(d)) {
    auto m = oci::parse_manifest(*bytes, "");
    if (m && m->subject) (void)repos_.remove_referrer(name, *m->subject, d);
  }
  // If-Match: a tag moved on to another manifest meanwhile stays.
  for (const std::string& tag : repos_.tags(name, "", SIZE_MAX).tags) {
    TagChange change;
    change.precondition.if_match = d;
    auto gone = co_await write_tag(oci_tag(name, tag), change, false);
    if (gone) {
      (void)repos_.remove_tag(name, tag);
    } else if (!gone.error().is(Errc::precondition_failed) && !gone.error().is(Errc::not_found)) {
      co_return gone.error();
    }
  }
  co_return repos_.remove_manifest(name, d);
}

awaitable<void> Origin::delete_registry_blob(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await ex.respond_error(status::bad_request, "DIGEST_INVALID",
                                              d.error().message);
  auto removed = co_await remove_blob(ex, *d);
  if (!removed) co_return co_await respond_failure(ex, removed.error(), "BLOB_UNKNOWN");
  co_await respond_accepted(ex);
}

awaitable<void> Origin::referrers(http::Exchange& ex, std::string_view name, std::string_view ref) {
  auto d = Digest::parse(ref);
  if (!d) co_return co_await ex.respond_error(status::bad_request, "DIGEST_INVALID",
                                              d.error().message);
  json all = json::parse(co_await referrers_here(std::string(name), *d));
  if (cluster_.enabled() && !is_replica_write(ex)) {
    const std::string path = "/v2/" + std::string(name) + "/referrers/" + d->str();
    auto others = co_await http::outbound([&] { return ask_members("GET", path); });
    if (!others) co_return co_await respond_failure(ex, others.error(), "");
    for (const http::Response& r : *others) {
      json doc = json::parse(r.body, nullptr, false);
      if (!r.success() || !doc.is_object() || !doc["manifests"].is_array()) continue;
      for (const json& desc : doc["manifests"]) all.push_back(desc);
    }
  }
  const auto artifact_type = ex.query_param("artifactType");
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, std::string(oci::kOciIndex));
  if (artifact_type) head.set("OCI-Filters-Applied", "artifactType");
  co_await ex.respond(std::move(head), referrers_index(all, artifact_type));
}

awaitable<std::string> Origin::referrers_here(std::string name, Digest subject) {
  json descriptors = json::array();
  for (const Digest& m : repos_.referrers(name, subject)) {
    auto bytes = co_await manifest_bytes(m);
    if (!bytes) continue;  // collected since: its marker goes with the next delete
    if (auto desc = referrer_descriptor(m, *bytes)) descriptors.push_back(std::move(*desc));
  }
  co_return descriptors.dump();
}

}  // namespace shoal::origin
