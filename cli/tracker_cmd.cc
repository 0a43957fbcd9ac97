// `shoal tracker`: the BitTorrent tracker with Kraken's hand-out policy.
#include <algorithm>

#include "cli/commands.h"
#include "core/endpoint_list.h"
#include "core/log.h"
#include "http/server_config.h"
#include "tracker/memory_peer_store.h"
#include "tracker/redis_peer_store.h"
#include "tracker/tracker.h"

namespace shoal::cli {
namespace {

std::vector<ConfigKey> tracker_keys() {
  auto keys = server_config_keys("127.0.0.1:4200");
  keys.push_back({"origin", ConfigType::string, "",
                  "origin URL, URL,URL,... or dns:NAME:PORT that GET /metainfo/<digest> is "
                  "fetched from, tried in order"});
  keys.push_back({"peer_ttl", ConfigType::duration, "5m",
                  "a peer that has not announced for this long is forgotten"});
  keys.push_back(
      {"announce_interval", ConfigType::duration, "30s", "re-announce interval told to peers"});
  keys.push_back({"max_numwant", ConfigType::integer, "200", "most peers handed out per announce"});
  keys.push_back({"max_peers", ConfigType::integer, "1000000",
                  "most peers tracked in all swarms (memory store)"});
  keys.push_back({"peer_store", ConfigType::string, "memory",
                  "where swarms are kept: memory, redis://HOST:PORT/DB or "
                  "redis-sentinel://HOST:PORT,HOST:PORT/MASTER (shared by several trackers)"});
  keys.push_back({"peer_store_timeout", ConfigType::duration, "1s",
                  "Redis store: limit on each connect and each request"});
  keys.push_back({"peer_store_connections", ConfigType::integer, "8",
                  "Redis store: most connections to Redis"});
  keys.push_back({"max_swarm_peers", ConfigType::integer, "10000",
                  "Redis store: most peers in one swarm; beyond it new peers get a failure "
                  "reason"});
  keys.push_back({"metainfo_cache_size", ConfigType::size, "64MiB", "memory for cached metainfo"});
  keys.push_back({"handout_order", ConfigType::string, "pieces",
                  "pieces: peers holding the most pieces the asker lacks first, then by "
                  "completeness; completeness: Kraken's order only"});
  return keys;
}

std::chrono::milliseconds positive_duration(const Config& cfg, const std::string& key) {
  auto d = cfg.duration(key);
  if (d.count() <= 0) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key + ": must be positive");
  }
  return d;
}

int64_t integer_in(const Config& cfg, const std::string& key, int64_t lo, int64_t hi) {
  int64_t v = cfg.integer(key);
  if (v < lo || v > hi) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key + ": expected " +
                      std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v;
}

tracker::TrackerOptions tracker_options(const Config& cfg) {
  tracker::TrackerOptions o;
  if (!cfg.str("origin").empty()) {
    auto list = EndpointList::parse(cfg.str("origin"));
    if (!list)
      throw ConfigError("invalid value \"" + cfg.str("origin") +
                        "\" for origin: " + list.error().message);
    o.origins = *list;
  }
  o.announce_interval = positive_duration(cfg, "announce_interval");
  o.limits.max_numwant = static_cast<uint32_t>(integer_in(cfg, "max_numwant", 1, 10'000));
  o.limits.default_numwant = std::min<uint32_t>(50, o.limits.max_numwant);
  o.metainfo_cache_bytes = cfg.size("metainfo_cache_size");
  const std::string order = cfg.str("handout_order");
  if (order != "pieces" && order != "completeness") {
    throw ConfigError("invalid value \"" + order +
                      "\" for handout_order: expected pieces or completeness");
  }
  o.piece_aware_handout = order == "pieces";
  return o;
}

// The store `peer_store` names, built only once every value has been checked.
struct StoreChoice {
  std::unique_ptr<tracker::PeerStore> store;
  tracker::RedisPeerStore* redis = nullptr;  // the same store, when it is Redis
};

StoreChoice peer_store(const Config& cfg, std::chrono::milliseconds ttl) {
  auto max_peers = static_cast<size_t>(integer_in(cfg, "max_peers", 1, int64_t{1} << 40));
  auto spec = tracker::parse_peer_store(cfg.str("peer_store"));
  if (!spec) {
    throw ConfigError("invalid value \"" + cfg.str("peer_store") +
                      "\" for peer_store: " + spec.error().message);
  }
  tracker::RedisStoreOptions o;
  o.ttl = ttl;
  o.timeout = positive_duration(cfg, "peer_store_timeout");
  o.max_connections = static_cast<size_t>(integer_in(cfg, "peer_store_connections", 1, 1024));
  o.max_swarm_peers = static_cast<size_t>(integer_in(cfg, "max_swarm_peers", 1, 1'000'000));
  StoreChoice choice;
  if (!*spec) {
    choice.store = std::make_unique<tracker::MemoryPeerStore>(ttl, max_peers);
    return choice;
  }
  o.target = std::move(**spec);
  log::info("peer store", {{"store", o.target.str()}});
  auto redis = std::make_unique<tracker::RedisPeerStore>(std::move(o));
  choice.redis = redis.get();
  choice.store = std::move(redis);
  return choice;
}

}  // namespace

int tracker_main(const Args& args) {
  Config cfg(tracker_keys());
  if (!parse_server_command(cfg, args, "tracker")) return 0;
  auto server_opts = server_options_from(cfg);
  auto ttl = positive_duration(cfg, "peer_ttl");
  auto options = tracker_options(cfg);
  auto store = peer_store(cfg, ttl);
  if (config_checked(cfg, "tracker")) return 0;
  tracker::Tracker tracker(std::move(options), std::move(store.store));
  if (store.redis) store.redis->export_metrics(tracker.metrics());
  http::Server server(server_opts, [&tracker](http::Exchange& ex) { return tracker.handle(ex); });
  server.export_metrics(tracker.metrics());
  log_listening(server, "tracker");
  // Expired peers are already invisible; pruning only frees their memory (the Redis
  // store refreshes its swarm and peer counts instead).
  auto prune =
      std::clamp(ttl / 2, std::chrono::milliseconds(100), std::chrono::milliseconds(30'000));
  server.every(prune, [&tracker] { tracker.prune(); });
  server.run();
  return 0;
}

}  // namespace shoal::cli
