// The parts of the OCI Distribution Spec v1.1 that both registry sides share (the
// origin's push side, the peer agent's pull side): the name and reference grammars,
// the /v2/ route shapes and the spec's error document. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shoal::oci {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
// Registries must take manifests of at least 4 MiB; bigger ones are refused unread.
inline constexpr size_t kMaxManifestBytes = 4u << 20;

// <name>: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*,
// 255 characters at most. No component can be "." or "..", so a valid name is also
// a safe relative path.
bool valid_name(std::string_view name);
// <tag>: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool valid_tag(std::string_view tag);
// A reference is a digest when it has a ':' (tags cannot).
inline bool is_digest_reference(std::string_view ref) { return ref.find(':') != ref.npos; }

enum class Endpoint {
  base,         // /v2/
  manifest,     // /v2/<name>/manifests/<reference>
  blob,         // /v2/<name>/blobs/<digest>
  upload_new,   // /v2/<name>/blobs/uploads/
  upload,       // /v2/<name>/blobs/uploads/<id>
  tags,         // /v2/<name>/tags/list
  referrers,    // /v2/<name>/referrers/<digest>
};

struct Route {
  Endpoint endpoint;
  std::string_view name;  // not validated yet: callers answer NAME_INVALID themselves
  std::string_view arg;   // reference, digest or upload id
};

// Splits a path under /v2 ("/v2/..." with the "/v2" already removed is not accepted:
// pass the whole path). Names hold '/', so the endpoint is found from the end.
std::optional<Route> parse_route(std::string_view path);

// {"errors":[{"code":CODE,"message":...}]}, with Shoal's own codes translated to the
// spec's where it has one (UPLOAD_UNKNOWN becomes BLOB_UPLOAD_UNKNOWN, ...). Given to
// Exchange::set_error_renderer, it makes every error a registry route sends,
// including those of the blob code it shares with Shoal's own routes, the spec's.
std::string error_json(std::string_view code, std::string_view message);

}  // namespace shoal::oci
