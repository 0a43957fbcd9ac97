// The CDN edge's request core: every protocol front end (HTTP/1.1, HTTP/2, and
// HTTP/3 later) hands its requests to Edge::handle as http::Exchange objects, so
// routing, rate limits, cache lookups, fills, headers and errors are written once
// here and never know the protocol.
//
// A request for a blob is served from the RAM tier, else the disk tier, else from
// the fill already fetching it (collapsed), else from a new fill. Fills stream:
// every waiting client is served while the bytes arrive.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/digest.h"
#include "core/endpoint_list.h"
#include "core/metrics.h"
#include "core/url.h"
#include "edge/client_limiter.h"
#include "edge/hls_catalog.h"
#include "edge/tiers.h"
#include "http/client.h"
#include "http/fill.h"
#include "http/request_recorder.h"
#include "http/routes.h"
#include "http/server.h"
#include "http/upstreams.h"

namespace shoal::edge {

struct EdgeOptions {
  std::filesystem::path data_dir;
  // Fills ask the peer agent (the swarm) first, then each origin in order.
  std::optional<Url> peer;
  EndpointList origins;
  http::ClientOptions fill_client;
  uint64_t mem_cache_bytes = 256ull << 20;
  uint64_t mem_object_max = 8ull << 20;  // larger objects live on disk only
  uint64_t disk_cache_bytes = 10ull << 30;
  size_t max_fills = 64;  // concurrent fills; a miss beyond them gets 503
  // Per client address; 0 disables a limit. Bursts default to one second's worth.
  double requests_per_second = 0;
  double bytes_per_second = 0;
  // Origins whose web players may read HLS responses (CORS); "*" for any.
  std::vector<std::string> cors_origins{"*"};
};

enum class CacheStatus { none, hit, miss, collapsed };

class Edge {
 public:
  // Opens the disk tier; throws std::runtime_error at start-up.
  explicit Edge(EdgeOptions opts);
  ~Edge();
  Edge(const Edge&) = delete;
  Edge& operator=(const Edge&) = delete;

  awaitable<void> handle(http::Exchange& ex);
  // Periodic upkeep (forgets idle rate-limit buckets); call about once a second.
  void housekeeping();
  // Stops the fills in flight and waits for their threads. Call it once the server has
  // stopped and before its io_context goes: a fill wakes its readers on that context.
  void stop();
  const metrics::Registry& registry() const { return metrics_; }
  metrics::Registry& registry() { return metrics_; }

 private:
  struct Counters;
  using Routes = http::Routes<CacheStatus&>;
  Routes make_routes();
  awaitable<bool> admit(http::Exchange& ex);
  // `type`: the Content-Type to serve the bytes with ("": application/octet-stream).
  awaitable<void> get_blob(http::Exchange& ex, std::string_view digest_text, CacheStatus& cache,
                           std::string_view type = {});
  awaitable<bool> serve_ram(http::Exchange& ex, const Digest& d, std::string_view type);
  awaitable<bool> serve_disk(http::Exchange& ex, const Digest& d, std::string_view type);
  awaitable<void> serve_fill(http::Exchange& ex, std::shared_ptr<http::Fill> fill,
                             CacheStatus cache, std::string_view type);
  // /hls/<name>/...: playlists made from the package manifest, segments as blobs.
  awaitable<void> hls(http::Exchange& ex, std::string_view rest, CacheStatus& cache);
  awaitable<void> hls_playlist(http::Exchange& ex, const std::string& name, std::string_view file,
                               std::string_view rendition);
  // CORS headers on every HLS response; true when the request was a preflight (answered).
  awaitable<bool> cors(http::Exchange& ex);
  // Counts a 304 the shared blob response answered (shoal_edge_not_modified_total).
  void count_not_modified(const http::Exchange& ex);
  awaitable<void> send_bytes(http::Exchange& ex, http::Head head, const Digest& d,
                             std::shared_ptr<const std::string> bytes,
                             WallClock::time_point cached_at);
  // The fill for d: the one in flight (collapsed = true) or a new one; nullptr with
  // `busy` when max_fills are running, nullptr alone when d got cached meanwhile.
  std::shared_ptr<http::Fill> join_or_start(const Digest& d, bool& collapsed, bool& busy);
  void run_fill(std::shared_ptr<http::Fill> fill);
  // The peer agent, then the origins not marked down, then those marked down
  // (http::Upstreams' order).
  http::FillSources fill_sources();
  Result<void> commit_fill(http::Fill& fill, TempBlob& temp, std::string ram_copy,
                           const http::FillSource& source);
  void register_gauges();

  EdgeOptions opts_;
  metrics::Registry metrics_;
  http::RequestRecorder recorder_;
  std::unique_ptr<Counters> counters_;
  RamTier ram_;
  DiskTier disk_;
  ClientLimiter limiter_;
  http::Upstreams origins_;
  HlsCatalog hls_catalog_;
  const Routes routes_ = make_routes();

  std::mutex mu_;
  std::condition_variable fills_done_;
  std::unordered_map<Digest, std::shared_ptr<http::Fill>> fills_;
  size_t running_fills_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace shoal::edge
