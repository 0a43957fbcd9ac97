// The peer agent's blocking calls to the trackers and the origins: a blob's metainfo
// and tag lookups. One short-lived connection per call (these are rare next to the
// bytes, which come through the swarm); each call asks the trackers or origins in
// order and moves on from one that cannot be reached or answers 5xx
// (http/upstreams.h). Call
// through http::outbound, not http::offload: an origin that does not answer must
// not hold the threads that commit to disk.
#pragma once

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
  // `origins` and `trackers` (null: none) outlive this (the agent owns them).
  Upstream(http::Upstreams& origins, http::Upstreams* trackers)
      : origins_(origins), trackers_(trackers) {}

  // The bencoded metainfo of d: from the first tracker that answers (trackers cache
  // it), else from the origins. Errc::not_found when the origin does not hold d.
  Result<std::string> metainfo(const Digest& d) const;
  // GET /tags/<name> on the origin; `name` as it appeared in the request path.
  Result<Digest> resolve_tag(std::string_view name) const;
  // GET of a registry route on the origin (a manifest, a tag list), read in full up
  // to `limit` bytes: its success or its error document, for the agent to pass on.
  // Errc::unavailable when no origin can be reached.
  Result<http::Response> registry_get(const std::string& path_and_query, size_t limit) const;
  // GET /deletions?since=N on that origin: the blobs it deleted (JSON, origin/deletion_log.h).
  Result<std::string> deletions(const Url& origin, uint64_t since) const;

 private:
  http::Upstreams& origins_;
  http::Upstreams* trackers_;
};

}  // namespace shoal::peer
