#include "tracker/handout.h"

#include <algorithm>
#include <array>
#include <limits>
#include <tuple>
#include <utility>

#include "tracker/have_bits.h"

namespace shoal::tracker {

int HandoutPolicy::priority(const PeerEntry& peer) {
  // Origin is checked first: an origin is always complete, yet it ranks after
  // seeders so that peers take load off it.
  if (peer.is_origin) return 1;
  return peer.complete ? 0 : 2;
}

size_t HandoutPolicy::useful(const PeerEntry& peer, std::string_view requester_have) {
  if (peer.complete) return std::numeric_limits<size_t>::max();
  return count_useful(peer.have, requester_have);
}

namespace {

// The piece-aware order: a key per peer, then only the first `numwant` sorted
// (O(n log numwant)); the random tie-breaker is drawn once per peer, so equal keys
// come out in a uniformly random order.
std::vector<PeerEntry> select_by_pieces(std::vector<PeerEntry> swarm, std::string_view requester_id,
                                        size_t numwant, HandoutRng& rng,
                                        std::string_view requester_have) {
  struct Ranked {
    size_t useful;
    int cls;
    uint64_t tie;
    size_t index;
    bool operator<(const Ranked& o) const {
      return std::tie(o.useful, cls, tie) < std::tie(useful, o.cls, o.tie);
    }
  };
  std::vector<Ranked> ranked;
  ranked.reserve(swarm.size());
  for (size_t i = 0; i < swarm.size(); ++i) {
    if (swarm[i].peer_id == requester_id) continue;
    ranked.push_back({HandoutPolicy::useful(swarm[i], requester_have),
                      HandoutPolicy::priority(swarm[i]), rng(), i});
  }
  const size_t take = std::min(numwant, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(take),
                    ranked.end());
  std::vector<PeerEntry> out;
  out.reserve(take);
  for (size_t i = 0; i < take; ++i) out.push_back(std::move(swarm[ranked[i].index]));
  return out;
}

}  // namespace

std::vector<PeerEntry> HandoutPolicy::select(std::vector<PeerEntry> swarm,
                                             std::string_view requester_id, size_t numwant,
                                             HandoutRng& rng, std::string_view requester_have) {
  if (!requester_have.empty()) {
    return select_by_pieces(std::move(swarm), requester_id, numwant, rng, requester_have);
  }
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
