// The peer agent (`shoal peer`), one per host: serves blobs to local clients over
// HTTP, fetching missing ones through the swarm, streaming them while the download
// is in flight, and keeps seeding what it holds within a disk budget.
//
// Layout under the data directory:
//   blobs/sha256/<2 hex>/<64 hex>     verified blobs (the cache), seeded
//   metainfo/sha256/<2 hex>/<64 hex>  their .torrent files, for re-seeding at start-up
//   incoming/<64 hex>                 downloads in flight (removed at start-up)
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/store/blob_store.h"
#include "http/server.h"
#include "core/metrics.h"
#include "http/request_recorder.h"
#include "http/routes.h"
#include "core/endpoint_list.h"
#include "core/url.h"
#include "http/upstreams.h"
#include "peer/cache_index.h"
#include "peer/download.h"
#include "peer/handout_fetcher.h"
#include "peer/manifest_cache.h"
#include "peer/swarm.h"
#include "peer/upstream.h"

namespace shoal::peer {

struct PeerAgentOptions {
  std::filesystem::path data_dir;
  EndpointList origins;  // tried in order (http/upstreams.h)
  EndpointList trackers;  // base URLs: GET /metainfo/<digest>, tried in order; may be empty
  SwarmOptions swarm;                      // announce URLs, listen address, limits
  uint64_t cache_bytes = 0;                // 0: unlimited
  std::chrono::milliseconds cache_ttl{0};  // 0: never idle out
  // A download that verifies no piece for this long fails (no peer has the blob).
  std::chrono::milliseconds stall_timeout{120'000};
  uint32_t readahead_pieces = 4;  // pieces made time-critical ahead of a reader
  // Pieces nobody reachable holds come from the origin's HTTP hand-out, this many at
  // a time (HandoutFetcher); 0: from the origin's BitTorrent side, like any peer.
  uint32_t handout_window = 2;
  // How often the origins are asked which blobs they deleted (dropped from the cache).
  std::chrono::milliseconds deletions_interval{60'000};
};

class PeerAgent {
 public:
  // Opens the data directory, starts the swarm and re-seeds every cached blob.
  // Throws std::runtime_error at start-up.
  explicit PeerAgent(PeerAgentOptions opts);
  ~PeerAgent();
  PeerAgent(const PeerAgent&) = delete;
  PeerAgent& operator=(const PeerAgent&) = delete;

  awaitable<void> handle(http::Exchange& ex);
  // Periodic: fails stalled downloads, evicts by budget and idle time.
  void housekeeping();
  // Periodic: asks every origin which blobs it deleted since the last poll and drops
  // them from the cache (peer_deletions.cc), on the outbound pool.
  void poll_deletions();
  metrics::Registry& metrics() { return metrics_; }
  // Stops libtorrent's event thread. Call it once the server has stopped and before
  // its io_context goes: events wake readers of a download on that context.
  void stop() { swarm_->stop_events(); }
  uint16_t bt_port() const { return swarm_->listen_port(); }

 private:
  using Clock = std::chrono::steady_clock;
  http::Routes<> make_routes();
  awaitable<void> get_blob(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> head_uncached(http::Exchange& ex, const Digest& d);
  awaitable<bool> serve_cached(http::Exchange& ex, const Digest& d);
  awaitable<void> stream(http::Exchange& ex, std::shared_ptr<Download> dl);
  awaitable<void> get_tag(http::Exchange& ex, std::string_view name);
  awaitable<void> preload(http::Exchange& ex, std::string_view what);
  // OCI Distribution pull side, /v2/... (peer_registry.cc).
  awaitable<void> registry(http::Exchange& ex);
  awaitable<void> get_manifest(http::Exchange& ex, std::string_view name, std::string_view ref);
  awaitable<void> serve_manifest(http::Exchange& ex, const Digest& d, const CachedManifest& m);
  awaitable<void> pass_on(http::Exchange& ex, const std::string& target);

  // The in-flight download of d, started if needed; nullptr when d is cached. A
  // download started for a reader asks for its first pieces first.
  std::shared_ptr<Download> fetch(const Digest& d, bool reader);
  void resolve(const std::shared_ptr<Download>& dl, bool reader);  // on the blocking pool
  void on_swarm_event(const SwarmEvent& e);                        // on the swarm's thread
  void finish(const std::shared_ptr<Download>& dl);
  void abandon(const std::shared_ptr<Download>& dl, Error why);
  void start_handout(const Digest& d, const ParsedMetainfo& m);
  void stop_handout(const Digest& d);
  std::shared_ptr<Download> inflight(const Digest& d);
  void evict(Clock::time_point now, uint64_t reserve);
  void drop_deleted(const Url& origin);  // blocking
  void drop_cached(const Digest& d);
  void reseed();
  void register_metrics();
  std::string metainfo_path(const Digest& d) const;
  std::string incoming_dir() const { return (opts_.data_dir / "incoming").string(); }

  PeerAgentOptions opts_;
  std::unique_ptr<BlobStore> store_;
  http::Upstreams origins_{opts_.origins, "origin"};  // shared by every call to the origins
  http::Upstreams trackers_{opts_.trackers, "tracker"};
  Upstream upstream_;
  metrics::Registry metrics_;
  http::RequestRecorder recorder_{metrics_};
  const http::Routes<> routes_ = make_routes();
  metrics::Counter& evictions_;
  metrics::Counter& failures_;

  std::mutex mu_;  // guards inflight_ and cache_
  std::map<Digest, std::shared_ptr<Download>> inflight_;
  CacheIndex cache_;
  ManifestCache manifests_{16u << 20};
  // Hand-out threads of downloads in flight, and of ended ones until their last
  // request returns (housekeeping() reaps them). Guarded by mu_.
  std::map<Digest, std::unique_ptr<HandoutFetcher>> handouts_;
  std::vector<std::unique_ptr<HandoutFetcher>> ended_handouts_;
  // Per origin URL, the `since` of its next GET /deletions. Starts at 0 with every
  // process: an agent that was down still drops what was deleted meanwhile.
  std::mutex deletions_mu_;
  std::map<std::string, uint64_t> deletions_next_;
  std::atomic<bool> polling_deletions_{false};
  // Who this agent is to the origin's hand-out: random, so restarts look like new agents.
  const uint64_t agent_id_;
  // Last: its thread calls on_swarm_event, so it must stop before the rest goes.
  std::unique_ptr<Swarm> swarm_;
};

}  // namespace shoal::peer
