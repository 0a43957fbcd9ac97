#include "tracker/memory_peer_store.h"

namespace shoal::tracker {

MemoryPeerStore::MemoryPeerStore(std::chrono::milliseconds ttl, size_t max_peers)
    : ttl_(ttl), max_peers_(max_peers) {}

Result<void> MemoryPeerStore::upsert(const std::string& info_hash, const PeerEntry& peer,
                                     TimePoint now) {
  std::lock_guard lock(mu_);
  auto swarm = swarms_.find(info_hash);
  if (swarm != swarms_.end()) {
    auto it = swarm->second.peers.find(peer.peer_id);
    if (it != swarm->second.peers.end()) {
      it->second = Stored{peer, now + ttl_};
      return {};
    }
  }
  if (peer_count_ >= max_peers_) {
    return Error(Errc::too_large, "tracker is full (" + std::to_string(max_peers_) + " peers)");
  }
  if (swarm == swarms_.end()) swarm = swarms_.emplace(info_hash, Swarm{}).first;
  swarm->second.peers.emplace(peer.peer_id, Stored{peer, now + ttl_});
  ++peer_count_;
  return {};
}

awaitable<Result<std::vector<PeerEntry>>> MemoryPeerStore::announce(const std::string& info_hash,
                                                                    const PeerEntry& peer,
                                                                    AnnounceEvent event,
                                                                    TimePoint now) {
  Result<void> done = event == AnnounceEvent::stopped ? remove(info_hash, peer.peer_id)
                                                      : upsert(info_hash, peer, now);
  if (!done) co_return done.error();
  if (event == AnnounceEvent::completed) (void)record_completed(info_hash);
  co_return live_peers(info_hash, now);
}

Result<void> MemoryPeerStore::remove(const std::string& info_hash, const std::string& peer_id) {
  std::lock_guard lock(mu_);
  auto swarm = swarms_.find(info_hash);
  if (swarm == swarms_.end()) return {};
  peer_count_ -= swarm->second.peers.erase(peer_id);
  // The swarm (and its downloaded count) stays until prune() finds it empty.
  return {};
}

Result<void> MemoryPeerStore::record_completed(const std::string& info_hash) {
  std::lock_guard lock(mu_);
  auto swarm = swarms_.find(info_hash);
  if (swarm != swarms_.end()) ++swarm->second.downloaded;
  return {};
}

Result<std::vector<PeerEntry>> MemoryPeerStore::live_peers(const std::string& info_hash, TimePoint now) {
  std::vector<PeerEntry> out;
  std::lock_guard lock(mu_);
  auto swarm = swarms_.find(info_hash);
  if (swarm == swarms_.end()) return out;
  out.reserve(swarm->second.peers.size());
  for (const auto& [id, stored] : swarm->second.peers) {
    if (stored.expires > now) out.push_back(stored.entry);
  }
  return out;
}

Result<SwarmCounts> MemoryPeerStore::live_counts(const std::string& info_hash, TimePoint now) {
  SwarmCounts c;
  std::lock_guard lock(mu_);
  auto swarm = swarms_.find(info_hash);
  if (swarm == swarms_.end()) return c;
  c.downloaded = swarm->second.downloaded;
  for (const auto& [id, stored] : swarm->second.peers) {
    if (stored.expires <= now) continue;
    if (stored.entry.complete) ++c.complete;
    else ++c.incomplete;
  }
  return c;
}

size_t MemoryPeerStore::swarm_count() const {
  std::lock_guard lock(mu_);
  return swarms_.size();
}

size_t MemoryPeerStore::peer_count() const {
  std::lock_guard lock(mu_);
  return peer_count_;
}

size_t MemoryPeerStore::prune(TimePoint now) {
  std::lock_guard lock(mu_);
  size_t dropped = 0;
  for (auto swarm = swarms_.begin(); swarm != swarms_.end();) {
    auto& peers = swarm->second.peers;
    dropped += std::erase_if(peers, [now](const auto& kv) { return kv.second.expires <= now; });
    if (peers.empty()) swarm = swarms_.erase(swarm);
    else ++swarm;
  }
  peer_count_ -= dropped;
  return dropped;
}

}  // namespace shoal::tracker
