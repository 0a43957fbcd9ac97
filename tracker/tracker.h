// The tracker: a standard BitTorrent HTTP tracker (BEP 3 announce, BEP 23 compact
// peers, BEP 7 IPv6, BEP 48 scrape) with Kraken's hand-out policy, plus metainfo by
// digest fetched from the origins (the first that answers) and cached. Tracker is the
// request handler given to the server, as origin::Origin is.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/server.h"
#include "core/digest.h"
#include "core/metrics.h"
#include "http/request_recorder.h"
#include "http/routes.h"
#include "core/endpoint_list.h"
#include "core/url.h"
#include "http/upstreams.h"
#include "tracker/announce.h"
#include "tracker/handout.h"
#include "tracker/metainfo_cache.h"
#include "tracker/peer_store.h"

namespace shoal::tracker {

struct TrackerOptions {
  // Where GET /metainfo/<digest> comes from, tried in order; unset: 503.
  std::optional<EndpointList> origins;
  std::chrono::milliseconds announce_interval{30'000};
  AnnounceLimits limits;
  size_t metainfo_cache_bytes = 64u << 20;
  std::chrono::milliseconds origin_timeout{30'000};
  // false: Kraken's completeness order only, whatever bitfields peers send (the
  // benchmark's baseline, and a way back should the piece-aware order misbehave).
  bool piece_aware_handout = true;
};

class Tracker {
 public:
  Tracker(TrackerOptions opts, std::unique_ptr<PeerStore> store);

  awaitable<void> handle(http::Exchange& ex);
  // Frees the memory of expired peers (call periodically; they are already invisible).
  void prune();
  metrics::Registry& metrics() { return metrics_; }
  PeerStore& store() { return *store_; }

 private:
  http::Routes<> make_routes();
  // 405 for any method but GET and HEAD, whatever the path.
  awaitable<void> respond_get_only(http::Exchange& ex);
  awaitable<void> respond_bencode(http::Exchange& ex, std::string body);

  awaitable<void> announce(http::Exchange& ex);
  // The announce's answer body (a reply or a failure).
  awaitable<std::string> announce_body(const AnnounceRequest& req, std::string_view remote);
  awaitable<void> scrape(http::Exchange& ex);
  awaitable<void> metainfo(http::Exchange& ex, std::string_view digest_text);
  // GET /swarms/<digest> (tracker_swarms.cc) and its live page /ui/swarms/<digest>.
  awaitable<void> swarms(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> swarm_page(http::Exchange& ex, std::string_view digest_text);

  // A blob's metainfo from the cache or the origins, with the swarm it describes;
  // status is not ok when it cannot be had (code and message say why).
  struct MetainfoLookup {
    bhttp::status status = bhttp::status::ok;
    std::string code, message;
    std::string metainfo;
    std::optional<SwarmKey> key;
  };
  awaitable<MetainfoLookup> lookup_metainfo(const Digest& digest);
  // The lookup for a route's digest; nullopt once a 400 or the lookup's error is sent.
  awaitable<std::optional<MetainfoLookup>> lookup_or_respond(http::Exchange& ex,
                                                             std::string_view digest_text);

  TrackerOptions opts_;
  std::unique_ptr<http::Upstreams> origins_;  // null without --origin
  std::unique_ptr<PeerStore> store_;
  MetainfoCache metainfo_cache_;
  std::mutex rng_mu_;
  HandoutRng rng_;
  metrics::Registry metrics_;
  http::RequestRecorder recorder_{metrics_};
  const http::Routes<> routes_ = make_routes();
  metrics::Histogram* handout_size_;
  metrics::Counter* failures_;
};

}  // namespace shoal::tracker
