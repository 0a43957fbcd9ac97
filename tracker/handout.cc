#include "tracker/handout.h"

#include <algorithm>
#include <array>
#include <utility>

namespace shoal::tracker {

int HandoutPolicy::priority(const PeerEntry& peer) {
  // Origin is checked first: an origin is always complete, yet it ranks after
  // seeders so that peers take load off it.
  if (peer.is_origin) return 1;
  return peer.complete ? 0 : 2;
}

std::vector<PeerEntry> HandoutPolicy::select(std::vector<PeerEntry> swarm,
                                             std::string_view requester_id, size_t numwant,
                                             HandoutRng& rng) {
  std::array<std::vector<PeerEntry>, 3> classes;
  for (PeerEntry& p : swarm) {
    if (p.peer_id == requester_id) continue;
    classes[static_cast<size_t>(priority(p))].push_back(std::move(p));
  }
  std::vector<PeerEntry> out;
  out.reserve(std::min(numwant, swarm.size()));
  for (auto& cls : classes) {
    // Partial Fisher-Yates: only as many draws as places are left, so a large swarm
    // and a small numwant cost O(numwant) swaps.
    size_t take = std::min(numwant - out.size(), cls.size());
    for (size_t i = 0; i < take; ++i) {
      std::uniform_int_distribution<size_t> pick(i, cls.size() - 1);
      std::swap(cls[i], cls[pick(rng)]);
      out.push_back(std::move(cls[i]));
    }
    if (out.size() == numwant) break;
  }
  return out;
}

}  // namespace shoal::tracker
