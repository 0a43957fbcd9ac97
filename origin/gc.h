// Garbage collection of blobs by a mark phase (docs/ARCHITECTURE.md, "Garbage
// collection"): a blob stays when a root reaches it (a tag's target, a manifest in a
// repository, and through manifests their config, layers and child manifests) or when
// it is younger than the grace period. Sans-I/O: the store, the roots and the clock
// come from the caller (the origin, or a test's memory), so the order that makes a
// collection safe against a concurrent push is written once, here, and tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

using GcClock = std::chrono::system_clock;  // blob files' modification times

struct GcBlob {
  Digest digest;
  uint64_t size = 0;
  GcClock::time_point modified;  // commit, or the last time a push referred to it
};

// What a collection works on.
class GcStore {
 public:
  virtual ~GcStore() = default;
  // The blobs held (candidates for removal).
  virtual std::vector<GcBlob> blobs() = 0;
  // Every root: tag targets and manifests in repositories. An error (a ring member
  // that cannot answer) stops the collection: a root not seen would lose its blobs.
  virtual Result<std::vector<Digest>> roots() = 0;
  // The bytes of d when it is a blob small enough to be a manifest; nullopt otherwise.
  virtual std::optional<std::string> small_blob(const Digest& d) = 0;
  // Removes d unless it was modified at or after `cutoff` since it was listed (a push
  // referred to it): true when removed. Atomic against the push's touch.
  virtual Result<bool> remove_if_older(const Digest& d, GcClock::time_point cutoff) = 0;
};

struct GcReport {
  std::vector<Digest> removed;  // or, in a dry run, what would be
  uint64_t bytes = 0;
  size_t kept = 0;  // blobs held that stay
};

// The blobs the roots reach: each root, and through every manifest among them
// (bytes that parse as one) its config, layers and child manifests. A subject is not
// followed: a referrer does not keep the manifest it refers to alive.
std::set<Digest> mark(const std::vector<Digest>& roots,
                      const std::function<std::optional<std::string>(const Digest&)>& small_blob);

// Lists the blobs first, reads the roots after: a manifest pushed after the listing
// is among the roots, and one pushed before it touched its blobs (see remove_if_older).
Result<GcReport> collect(GcStore& store, GcClock::time_point now, GcClock::duration grace,
                         bool dry_run);

}  // namespace shoal::origin
