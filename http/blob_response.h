// The parts of a blob response that every server serving blobs shares (origin,
// peer agent): immutable caching headers named by the digest, and single ranges.
#pragma once

#include <cstdint>
#include <optional>

#include "core/digest.h"
#include "http/server.h"

namespace shoal::http {

// 200 with ETag and Docker-Content-Digest (the digest), immutable Cache-Control,
// Accept-Ranges and an octet-stream type.
Head blob_head(const Digest& d);

// The request's If-None-Match names this blob's ETag (strong or weak form) or "*":
// the client's copy is current and a 304 answers it.
bool not_modified(const Exchange& ex, const Digest& d);

struct BodySpan {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Applies the request's Range header to `head` for a blob of `size` bytes: the
// span to send (the whole blob without a usable range; 206 and Content-Range for a
// single range), or nullopt for an unsatisfiable range, answered with a 416.
awaitable<std::optional<BodySpan>> apply_range(Exchange& ex, Head& head, uint64_t size);

}  // namespace shoal::http
