// Repair without external storage: every origin walks the blobs it holds and makes
// sure each is on its owners (the first `replicas` members of its order that are not
// lost). A missing copy becomes a queued copy job, sent at repair_rate; a copy this
// origin holds but no longer owns is removed only once every owner confirmed it.
// The same walk refills an origin that came back with an empty disk, and moves blobs
// to a member that joined.
#include "core/log.h"
#include "http/outbound.h"
#include "origin/origin.h"

namespace shoal::origin {

namespace {

// Whether `owner` answers that it holds d (its own copy, never a proxied one).
std::optional<bool> holds(const Url& owner, const Digest& d, const http::Headers& h,
                          const http::ClientOptions& opts) {
  http::Client client(owner, opts);
  auto r = client.request("HEAD", "/blobs/" + d.str(), h);
  if (!r || r->status >= 500) return std::nullopt;
  return r->status == 200;
}

}  // namespace

void Origin::repair_pass() {
  if (!cluster_.enabled() || repairing_.exchange(true)) return;
  post_ring([this] {
    size_t under = 0;
    for (const Digest& d : store_->list()) {
      if (!repair_blob(d)) ++under;
    }
    under_replicated_.store(under);
    repair_passes_->inc();
    repairing_.store(false);
  });
}

bool Origin::repair_blob(const Digest& d) {
  const auto now = SteadyClock::now();
  const auto owners = cluster_.repair_owners(blob_key(d.str()), now);
  bool mine = false;
  size_t confirmed = 0;
  for (const Owner& o : owners) {
    if (o.self) {
      mine = true;
      ++confirmed;
      continue;
    }
    if (!o.up) continue;
    auto held = holds(o.url, d, peer_headers(), peer_client_options());
    if (!held) {
      cluster_.report_failure(o.url, SteadyClock::now());
    } else if (*held) {
      ++confirmed;
    } else if (auto ok = copies_.add(CopyJob{d, o.url}, now); !ok) {
      log::warn("cannot queue a repair copy", {{"digest", d.str()}, {"error", ok.error().message}});
    }
  }
  const bool whole = confirmed == owners.size();
  if (!mine && whole && copies_.jobs_for(d).empty()) drop_copy(d);
  return whole;
}

void Origin::drop_copy(const Digest& d) {
  if (auto ok = store_->remove(d); !ok) return;
  if (seeder_) seeder_->remove(d);
  metainfo_->remove(d);
  dropped_copies_->inc();
  log::info("dropped a copy this origin no longer owns", {{"digest", d.str()}});
}

}  // namespace shoal::origin
