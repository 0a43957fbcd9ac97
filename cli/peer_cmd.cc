// `shoal peer`: the per-host agent that pulls blobs through the swarm.
#include <algorithm>
#include <limits>

#include "cli/commands.h"
#include "core/endpoint_list.h"
#include "core/log.h"
#include "http/server_config.h"
#include "core/url.h"
#include "peer/peer_agent.h"

namespace shoal::cli {
namespace {

std::vector<ConfigKey> peer_keys() {
  auto keys = server_config_keys("127.0.0.1:4300");
  keys.push_back({"origin", ConfigType::string, "",
                  "origin URL, URL,URL,... or dns:NAME:PORT, tried in order (metainfo, tags "
                  "and the hand-out; required)"});
  keys.push_back(
      {"tracker", ConfigType::string, "",
       "tracker URL or URL,URL,...: announces (one tier: the next when one fails) and "
       "metainfo, tried in order (required)"});
  keys.push_back({"bt_listen", ConfigType::string, "",
                  "BitTorrent listen address (default: the listen host, port 0)"});
  keys.push_back(
      {"cache_size", ConfigType::size, "0", "disk budget for cached blobs; 0: no limit"});
  keys.push_back(
      {"cache_ttl", ConfigType::duration, "0s", "evict blobs not read for this long; 0: never"});
  keys.push_back(
      {"upload_rate", ConfigType::size, "0", "BitTorrent upload limit, bytes per second; 0: none"});
  keys.push_back({"download_rate", ConfigType::size, "0",
                  "BitTorrent download limit, bytes per second; 0: none"});
  keys.push_back(
      {"max_connections", ConfigType::integer, "200", "most BitTorrent peer connections"});
  keys.push_back({"readahead_pieces", ConfigType::integer, "4",
                  "pieces ahead of a reader fetched first; 0: rarest first only"});
  keys.push_back({"handout_window", ConfigType::integer, "2",
                  "pieces asked of the origin's HTTP hand-out at a time; 0: ask the origin "
                  "over BitTorrent like any peer"});
  keys.push_back({"stall_timeout", ConfigType::duration, "2m",
                  "a download with no verified piece for this long fails"});
  keys.push_back({"deletions_interval", ConfigType::duration, "1m",
                  "how often the origins are asked which blobs they deleted (dropped from "
                  "the cache); 0: never"});
  return keys;
}

EndpointList required_urls(const Config& cfg, const std::string& key) {
  if (cfg.str(key).empty())
    throw ConfigError("missing " + key + ": shoal peer needs --" + key + " URL");
  auto list = EndpointList::parse(cfg.str(key));
  if (!list)
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key + ": " +
                      list.error().message);
  return *list;
}

// The trackers' base URLs (for GET /metainfo/<digest>), whether given with /announce or not.
EndpointList tracker_bases(const EndpointList& list) {
  std::vector<Url> bases = list.urls();
  for (Url& u : bases) {
    if (u.base_path.ends_with("/announce")) u.base_path.resize(u.base_path.size() - 9);
  }
  return EndpointList::of(std::move(bases));
}

int rate(const Config& cfg, const std::string& key) {
  uint64_t v = cfg.size(key);
  if (v > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key +
                      ": at most 2 GiB per second");
  }
  return static_cast<int>(v);
}

peer::PeerAgentOptions peer_options(const Config& cfg) {
  peer::PeerAgentOptions o;
  o.data_dir = cfg.str("data");
  o.origins = required_urls(cfg, "origin");
  o.swarm.trackers = announce_urls(cfg.str("tracker"));  // throws for a dns: list
  o.trackers = tracker_bases(required_urls(cfg, "tracker"));
  o.swarm.listen = cfg.str("bt_listen");
  if (o.swarm.listen.empty())
    o.swarm.listen = cfg.str("listen").substr(0, cfg.str("listen").rfind(':')) + ":0";
  o.swarm.upload_rate = rate(cfg, "upload_rate");
  o.swarm.download_rate = rate(cfg, "download_rate");
  int64_t conns = cfg.integer("max_connections");
  if (conns < 2 || conns > 65535) {
    throw ConfigError("invalid value \"" + cfg.str("max_connections") +
                      "\" for max_connections: expected 2 to 65535");
  }
  o.swarm.max_connections = static_cast<int>(conns);
  int64_t readahead = cfg.integer("readahead_pieces");
  if (readahead < 0 || readahead > 1024) {
    throw ConfigError("invalid value \"" + cfg.str("readahead_pieces") +
                      "\" for readahead_pieces: expected 0 to 1024");
  }
  o.readahead_pieces = static_cast<uint32_t>(readahead);
  int64_t window = cfg.integer("handout_window");
  if (window < 0 || window > 16) {
    throw ConfigError("invalid value \"" + cfg.str("handout_window") +
                      "\" for handout_window: expected 0 to 16");
  }
  o.handout_window = static_cast<uint32_t>(window);
  o.cache_bytes = cfg.size("cache_size");
  o.cache_ttl = cfg.duration("cache_ttl");
  o.stall_timeout = cfg.duration("stall_timeout");
  o.deletions_interval = cfg.duration("deletions_interval");
  if (o.cache_ttl.count() < 0 || o.stall_timeout.count() <= 0) {
    throw ConfigError("cache_ttl must not be negative and stall_timeout must be positive");
  }
  return o;
}

}  // namespace

int peer_main(const Args& args) {
  Config cfg(peer_keys());
  if (!parse_server_command(cfg, args, "peer")) return 0;
  auto server_opts = server_options_from(cfg);
  auto opts = peer_options(cfg);
  if (config_checked(cfg, "peer")) return 0;
  peer::PeerAgent agent(opts);
  http::Server server(server_opts, [&agent](http::Exchange& ex) { return agent.handle(ex); });
  server.export_metrics(agent.metrics());
  log_listening(server, "peer", opts.data_dir.string());
  log::info("swarm", {{"bt_port", agent.bt_port()}, {"tracker", cfg.str("tracker")}});
  server.every(std::chrono::milliseconds(1000), [&agent] { agent.housekeeping(); });
  if (auto every = opts.deletions_interval; every.count() > 0) {
    server.every(std::max(every, std::chrono::milliseconds(100)),
                 [&agent] { agent.poll_deletions(); });
  }
  server.run();
  agent.stop();
  return 0;
}

}  // namespace shoal::cli
