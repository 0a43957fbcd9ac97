// The peer agent's blocking calls to the tracker and the origins: a blob's metainfo
// and tag lookups. One short-lived connection per call (these are rare next to the
// bytes, which come through the swarm); each call asks the origins in order and
// moves on from one that cannot be reached or answers 5xx (http/upstreams.h). Call
// through http::outbound, not http::offload: an origin that does not answer must
// not hold the threads that commit to disk.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"
#include "http/client.h"
#include "http/upstreams.h"
#include "core/url.h"

namespace shoal::peer {

class Upstream {
 public:
  // `origins` outlives this (the agent owns both).
  Upstream(http::Upstreams& origins, std::optional<Url> tracker)
      : origins_(origins), tracker_(std::move(tracker)) {}

  // The bencoded metainfo of d: from the tracker (which caches it), else from the
  // origin. Errc::not_found when the origin does not hold d.
  Result<std::string> metainfo(const Digest& d) const;
  // GET /tags/<name> on the origin; `name` as it appeared in the request path.
  Result<Digest> resolve_tag(std::string_view name) const;
  // GET of a registry route on the origin (a manifest, a tag list), read in full up
  // to `limit` bytes: its success or its error document, for the agent to pass on.
  // Errc::unavailable when no origin can be reached.
  Result<http::Response> registry_get(const std::string& path_and_query, size_t limit) const;

 private:
  http::Upstreams& origins_;
  std::optional<Url> tracker_;
};

}  // namespace shoal::peer
