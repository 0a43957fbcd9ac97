// Deleted blobs leave agents' caches too: every origin logs what it deleted (DELETE,
// garbage collection) and each agent polls every origin's log, remembering where it
// stopped. Polling needs nothing from the origin beyond an append-only list, and an
// agent that was down or missed a poll catches up on the next one.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "http/offload.h"
#include "http/outbound.h"
#include "peer/peer_agent.h"

namespace shoal::peer {

void PeerAgent::poll_deletions() {
  if (polling_deletions_.exchange(true)) return;
  // The guard on the disk pool keeps the server's shutdown (which joins that pool)
  // waiting for the poll, as for a fetch's metainfo request.
  asio::post(http::outbound_pool(), [this, guard = asio::make_work_guard(http::blocking_pool())] {
    if (auto members = origins_.order()) {
      for (const Url& origin : *members) drop_deleted(origin);
    }
    polling_deletions_ = false;
  });
}

void PeerAgent::drop_deleted(const Url& origin) {
  uint64_t since = 0;
  {
    std::lock_guard lock(deletions_mu_);
    since = deletions_next_[origin.str()];
  }
  for (;;) {  // the origin answers in pages
    auto body = upstream_.deletions(origin, since);
    if (!body) {
      log::debug("cannot read deletions", {{"origin", origin.str()}, {"error", body.error().message}});
      return;
    }
    auto doc = nlohmann::json::parse(*body, nullptr, false);
    if (!doc.is_object() || !doc["digests"].is_array() || !doc["next"].is_number_unsigned()) return;
    for (const auto& text : doc["digests"]) {
      if (!text.is_string()) continue;
      if (auto d = Digest::parse(text.get<std::string>())) drop_cached(*d);
    }
    const uint64_t next = doc["next"].get<uint64_t>();
    {
      std::lock_guard lock(deletions_mu_);
      deletions_next_[origin.str()] = next;
    }
    if (next == since || doc["digests"].empty()) return;
    since = next;
  }
}

void PeerAgent::drop_cached(const Digest& d) {
  {
    std::lock_guard lock(mu_);
    if (!cache_.contains(d)) return;
    cache_.erase(d);
  }
  swarm_->remove(d);
  (void)store_->remove(d);
  ::unlink(metainfo_path(d).c_str());
  log::info("dropped a blob the origin deleted", {{"digest", d.str()}});
}

}  // namespace shoal::peer
