// OCI Distribution pull side on the agent (/v2/): what containerd, Docker and skopeo
// ask a registry mirror. Layers are ordinary blobs, fetched through the swarm and
// streamed as pieces arrive (get_blob); manifests and tag lists are small and come
// from the origin, manifests checked against their digest and kept by digest. The
// agent takes no pushes: those go to the origin.
#include "http/failure.h"
#include "core/oci/oci.h"
#include "http/oci_response.h"
#include "core/sha256.h"
#include "http/outbound.h"
#include "peer/peer_agent.h"

namespace shoal::peer {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;

bool is_read(verb m) { return m == verb::get || m == verb::head; }

std::string cache_key(std::string_view name, const Digest& d) {
  return std::string(name) + "@" + d.str();
}

}  // namespace

awaitable<void> PeerAgent::registry(http::Exchange& ex) {
  auto route = oci::parse_route(ex.path());
  if (!route)
    co_return co_await ex.respond_error(status::not_found, "NOT_FOUND", "no such registry route");
  if (!is_read(ex.method())) {
    co_return co_await ex.respond_error(status::method_not_allowed, "UNSUPPORTED",
                                        "the agent serves pulls only; push to the origin");
  }
  if (route->endpoint == oci::Endpoint::base) {
    co_return co_await oci::respond_api_base(ex);
  }
  if (!oci::valid_name(route->name)) {
    co_return co_await ex.respond_error(
        status::bad_request, "NAME_INVALID",
        "invalid repository name \"" + std::string(route->name) + "\"");
  }
  switch (route->endpoint) {
    case oci::Endpoint::manifest: co_return co_await get_manifest(ex, route->name, route->arg);
    case oci::Endpoint::blob: co_return co_await get_blob(ex, route->arg);
    case oci::Endpoint::tags: {
      std::string target(ex.path());
      if (!ex.query().empty()) target += "?" + std::string(ex.query());
      co_return co_await pass_on(ex, target);
    }
    default:
      co_return co_await ex.respond_error(status::method_not_allowed, "UNSUPPORTED",
                                          "the agent serves pulls only; push to the origin");
  }
}

awaitable<void> PeerAgent::get_manifest(http::Exchange& ex, std::string_view name,
                                        std::string_view ref) {
  const bool by_digest = oci::is_digest_reference(ref);
  if (by_digest) {
    auto d = Digest::parse(ref);
    if (!d) co_return co_await http::respond_failure(ex, d.error(), "MANIFEST_UNKNOWN");
    if (auto hit = manifests_.get(cache_key(name, *d)))
      co_return co_await serve_manifest(ex, *d, *hit);
  } else if (!oci::valid_tag(ref)) {
    co_return co_await ex.respond_error(status::not_found, "MANIFEST_UNKNOWN",
                                        "invalid tag \"" + std::string(ref) + "\"");
  }
  const std::string target = "/v2/" + std::string(name) + "/manifests/" + std::string(ref);
  auto fetch = [&] { return upstream_.registry_get(target, oci::kMaxManifestBytes); };
  auto got = co_await http::outbound(fetch);
  if (!got) co_return co_await http::respond_failure(ex, got.error(), "MANIFEST_UNKNOWN");
  if (!got->success()) {
    http::Head head;
    head.result(got->status);
    head.set(field::content_type, "application/json");
    co_return co_await ex.respond(std::move(head), got->body);
  }
  // Tags move, digests do not: what the origin sends must hash to what it claims.
  const Digest actual = Sha256::of(got->body.data(), got->body.size());
  if (got->header("Docker-Content-Digest") != actual.str() || (by_digest && ref != actual.str())) {
    co_return co_await ex.respond_error(status::bad_gateway, "UPSTREAM_INVALID",
                                        "the origin's manifest does not match its digest");
  }
  CachedManifest m{got->header("Content-Type"), std::move(got->body)};
  manifests_.put(cache_key(name, actual), m);
  co_await serve_manifest(ex, actual, m);
}

awaitable<void> PeerAgent::serve_manifest(http::Exchange& ex, const Digest& d,
                                          const CachedManifest& m) {
  http::Head head;
  head.result(status::ok);
  head.set(field::content_type, m.media_type);
  head.set("Docker-Content-Digest", d.str());
  head.set(field::etag, "\"" + d.str() + "\"");
  co_await ex.respond(std::move(head), m.body);
}

// The origin's answer as it is (tag lists and their pagination links, or its error).
awaitable<void> PeerAgent::pass_on(http::Exchange& ex, const std::string& target) {
  auto fetch = [&] { return upstream_.registry_get(target, 4u << 20); };
  auto got = co_await http::outbound(fetch);
  if (!got) co_return co_await http::respond_failure(ex, got.error(), "NAME_UNKNOWN");
  http::Head head;
  head.result(got->status);
  head.set(field::content_type, "application/json");
  if (auto link = got->header("Link"); !link.empty()) head.set(field::link, link);
  co_await ex.respond(std::move(head), got->body);
}

}  // namespace shoal::peer
