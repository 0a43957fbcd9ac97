// `shoal origin`: the durable blob store behind the upload and download API.
#include <algorithm>

#include "cli/commands.h"
#include "core/log.h"
#include "core/torrent/metainfo.h"
#include "http/server_config.h"
#include "core/endpoint_list.h"
#include "core/url.h"
#include "origin/origin.h"
#include "storage/s3_spec.h"
#include "storage/upstream_spec.h"

namespace shoal::cli {
namespace {

std::vector<ConfigKey> origin_keys() {
  auto keys = server_config_keys("127.0.0.1:4100");
  keys.push_back({"token_file", ConfigType::string, "",
                  "file of bearer tokens (one per line) required for writes"});
  keys.push_back({"auth_reads", ConfigType::boolean, "false", "require the token for reads too"});
  keys.push_back({"max_upload_size", ConfigType::size, "64GiB", "largest accepted blob"});
  keys.push_back({"upload_idle_timeout", ConfigType::duration, "1h",
                  "resumable upload sessions idle this long are removed"});
  keys.push_back({"tracker", ConfigType::string, "",
                  "tracker URL(s), comma-separated: seed every blob into the swarm"});
  keys.push_back({"bt_listen", ConfigType::string, "",
                  "BitTorrent listen address (default: the listen host, port 0)"});
  keys.push_back(
      {"piece_size", ConfigType::size, "0",
       "BitTorrent piece size of new blobs (256KiB to 16MiB, a power of two); 0: by size"});
  keys.push_back({"super_seeding", ConfigType::boolean, "false",
                  "reveal pieces one at a time so that each leaves the origin about once"});
  keys.push_back({"origins", ConfigType::string, "",
                  "the ring: every origin's URL, comma-separated, or dns:NAME:PORT (same on "
                  "every origin); empty: this origin alone"});
  keys.push_back({"self", ConfigType::string, "",
                  "this origin's own URL as it appears in origins (default: http://LISTEN)"});
  keys.push_back({"replicas", ConfigType::integer, "3", "copies of each blob in the ring"});
  keys.push_back({"write_quorum", ConfigType::integer, "2",
                  "copies that must be durable before a push succeeds"});
  keys.push_back({"health_interval", ConfigType::duration, "2s",
                  "how often each origin checks the others"});
  keys.push_back({"health_fails", ConfigType::integer, "2",
                  "consecutive failed checks that mark an origin down"});
  keys.push_back({"health_passes", ConfigType::integer, "2",
                  "consecutive good checks that mark it up again"});
  keys.push_back({"repair_after", ConfigType::duration, "10m",
                  "an owner down this long has its blobs copied to the next origins"});
  keys.push_back({"repair_interval", ConfigType::duration, "1m",
                  "how often each origin checks that the blobs it holds are on their owners"});
  keys.push_back({"repair_rate", ConfigType::size, "100MiB",
                  "bytes per second this origin sends for repair and background copies"});
  keys.push_back({"gc_interval", ConfigType::duration, "0s",
                  "how often garbage collection removes blobs no tag or manifest reaches; "
                  "0: only on POST /gc"});
  keys.push_back({"gc_grace", ConfigType::duration, "1h",
                  "garbage collection keeps blobs committed or referred to this recently"});
  keys.push_back({"cache_size", ConfigType::size, "0",
                  "with a storage backend: bytes of blobs kept on disk, evicting the least "
                  "recently used of those already written back; 0: no limit"});
  keys.push_back({"writeback_concurrency", ConfigType::integer, "2",
                  "blobs written back to the storage backend at once"});
  for (auto& key : storage::upstream_config_keys()) keys.push_back(std::move(key));
  for (auto& key : storage::s3_config_keys()) keys.push_back(std::move(key));
  return keys;
}

int64_t positive(const Config& cfg, const char* key) {
  int64_t v = cfg.integer(key);
  if (v < 1) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key +
                      ": must be at least 1");
  }
  return v;
}

origin::ClusterOptions cluster_options(const Config& cfg) {
  origin::ClusterOptions c;
  if (!cfg.str("origins").empty()) {
    auto list = EndpointList::parse(cfg.str("origins"));
    if (!list) throw ConfigError("invalid value for origins: " + list.error().message);
    c.origins = std::move(*list);
  }
  // Alone (no origins), an origin needs no name for itself: it may listen on port 0.
  std::string self = cfg.str("self");
  if (self.empty() && !c.origins.empty()) self = "http://" + cfg.str("listen");
  if (!self.empty()) {
    auto url = Url::parse(self);
    if (!url) throw ConfigError("invalid value \"" + self + "\" for self: " + url.error().message);
    c.self = *url;
  }
  c.replicas = static_cast<size_t>(positive(cfg, "replicas"));
  c.write_quorum = static_cast<size_t>(positive(cfg, "write_quorum"));
  c.check_interval = cfg.duration("health_interval");
  c.fails_to_down = static_cast<unsigned>(positive(cfg, "health_fails"));
  c.passes_to_up = static_cast<unsigned>(positive(cfg, "health_passes"));
  c.repair_after = cfg.duration("repair_after");
  c.repair_rate = cfg.size("repair_rate");
  return c;
}

origin::OriginOptions origin_options(const Config& cfg) {
  origin::OriginOptions o;
  o.data_dir = cfg.str("data");
  o.max_upload_size = cfg.size("max_upload_size");
  o.upload_idle_timeout = cfg.duration("upload_idle_timeout");
  if (o.upload_idle_timeout.count() <= 0) {
    throw ConfigError("invalid value \"" + cfg.str("upload_idle_timeout") +
                      "\" for upload_idle_timeout: must be positive");
  }
  if (!cfg.str("token_file").empty()) o.auth = origin::TokenAuth::from_file(cfg.str("token_file"));
  o.auth_reads = cfg.boolean("auth_reads");
  o.trackers = announce_urls(cfg.str("tracker"));
  o.bt_listen = cfg.str("bt_listen");
  o.super_seeding = cfg.boolean("super_seeding");
  uint64_t piece = cfg.size("piece_size");
  if (piece != 0 &&
      (piece < kMinPieceSize || piece > kMaxPieceSize || (piece & (piece - 1)) != 0)) {
    throw ConfigError("invalid value \"" + cfg.str("piece_size") +
                      "\" for piece_size: expected 0 or a power of two from 256KiB to 16MiB");
  }
  o.piece_size = static_cast<uint32_t>(piece);
  if (o.bt_listen.empty())
    o.bt_listen = cfg.str("listen").substr(0, cfg.str("listen").rfind(':')) + ":0";
  if (o.auth_reads && !o.auth.enabled()) throw ConfigError("auth_reads needs token_file");
  o.cluster = cluster_options(cfg);
  o.gc_grace = cfg.duration("gc_grace");
  if (o.gc_grace.count() < 0 || cfg.duration("gc_interval").count() < 0)
    throw ConfigError("gc_grace and gc_interval cannot be negative");
  if (auto upstream = storage::upstream_spec_from(cfg))
    o.upstream = storage::make_registry_backend(*upstream);
  o.backend = storage::make_s3_backend(cfg);
  o.cache_size = cfg.size("cache_size");
  o.writeback_concurrency = static_cast<unsigned>(positive(cfg, "writeback_concurrency"));
  return o;
}

void run_ring_housekeeping(http::Server& server, origin::Origin& origin, const Config& cfg) {
  auto& ring = origin.cluster();
  if (!ring.enabled()) return;
  std::string members;
  for (const auto& m : ring.members()) members += (members.empty() ? "" : ",") + m;
  log::info("ring", {{"self", ring.self().str()}, {"members", members},
                     {"replicas", ring.replicas()}, {"write_quorum", ring.write_quorum()}});
  auto positive_interval = [](std::chrono::milliseconds d) {
    return std::max(d, std::chrono::milliseconds(100));
  };
  server.every(positive_interval(ring.options().check_interval),
               [&origin] { origin.check_cluster(); });
  server.every(std::chrono::milliseconds(500), [&origin] { origin.pump_copies(); });
  server.every(positive_interval(cfg.duration("repair_interval")),
               [&origin] { origin.repair_pass(); });
  origin.check_cluster();
}

}  // namespace

int origin_main(const Args& args) {
  Config cfg(origin_keys());
  if (!parse_server_command(cfg, args, "origin")) return 0;
  auto server_opts = server_options_from(cfg);
  auto opts = origin_options(cfg);
  if (cfg.boolean("check_config")) {
    // The ring's own checks (self among the members, a dns: name that resolves) run
    // when it is made; a check makes one and lets it go.
    (void)origin::Cluster(opts.cluster, origin::SteadyClock::now());
  }
  if (config_checked(cfg, "origin")) return 0;
  if (opts.backend) {
    // Now rather than at the first write-back: a wrong key or bucket is a start-up error.
    if (auto ok = opts.backend->check(); !ok) throw ConfigError(ok.error().message);
  }
  if (opts.upstream) {
    // Not fatal: what the ring already pulled through stays servable while it is down.
    if (auto ok = opts.upstream->check(); !ok) {
      log::warn("upstream registry not usable",
                {{"upstream", opts.upstream->describe()}, {"error", ok.error().message}});
    } else {
      log::info("pull-through", {{"upstream", opts.upstream->describe()}});
    }
  }
  origin::Origin origin(std::move(opts));
  http::Server server(server_opts, [&origin](http::Exchange& ex) { return origin.handle(ex); });
  server.export_metrics(origin.metrics());
  log_listening(server, "origin", origin.store().root().string());
  if (auto* seeder = origin.seeder()) {
    log::info("seeding", {{"bt_port", seeder->listen_port()}, {"trackers", cfg.str("tracker")}});
    origin.seed_all();
  }
  auto sweep = std::min(std::chrono::milliseconds(30'000), cfg.duration("upload_idle_timeout") / 2);
  server.every(std::max(sweep, std::chrono::milliseconds(100)),
               [&origin] { origin.sweep_uploads(); });
  run_ring_housekeeping(server, origin, cfg);
  if (auto gc = cfg.duration("gc_interval"); gc.count() > 0) {
    server.every(std::max(gc, std::chrono::milliseconds(1'000)),
                 [&origin] { origin.collect_garbage_later(); });
  }
  if (origin.backend()) {
    server.every(std::chrono::milliseconds(500), [&origin] { origin.pump_writeback(); });
  }
  server.run();
  // Before the server (declared after the origin, so destroyed first) takes its
  // io_context along: ring work on the outbound pool may still hold its timers.
  origin.stop_ring_work();
  return 0;
}

}  // namespace shoal::cli
