// `shoal edge`: the CDN node end users talk to.
#include <limits>

#include "cli/client_common.h"
#include "cli/commands.h"
#include "core/endpoint_list.h"
#include "core/log.h"
#include "core/text.h"
#include "http/server_config.h"
#include "core/url.h"
#include "edge/edge.h"

namespace shoal::cli {
namespace {

std::vector<ConfigKey> edge_keys() {
  auto keys = server_config_keys("127.0.0.1:4400");
  keys.push_back({"plain_listen", ConfigType::string, "",
                  "a second listener for plain HTTP/1.1 next to HTTPS (HOST:PORT)"});
  keys.push_back({"origin", ConfigType::string, "",
                  "origins, tried in order after the peer agent: URL,URL,... or dns:NAME:PORT "
                  "(else $SHOAL_ORIGIN; required)"});
  keys.push_back({"peer", ConfigType::string, "",
                  "co-located peer agent URL: misses are filled through the swarm first"});
  keys.push_back({"mem_cache", ConfigType::size, "256MiB", "RAM tier budget"});
  keys.push_back({"mem_object_max", ConfigType::size, "8MiB", "largest object the RAM tier keeps"});
  keys.push_back({"disk_cache", ConfigType::size, "10GiB", "disk tier budget"});
  keys.push_back({"max_fills", ConfigType::integer, "64", "concurrent cache fills"});
  keys.push_back({"fill_timeout", ConfigType::duration, "30s",
                  "longest silence from an upstream before the fill moves on to the next one"});
  keys.push_back({"rate_limit_requests", ConfigType::integer, "0",
                  "requests per second per client address; 0: no limit"});
  keys.push_back({"rate_limit_bytes", ConfigType::size, "0",
                  "bytes per second per client address; 0: no limit"});
  keys.push_back({"max_connections", ConfigType::integer, "10000", "open connections in total"});
  keys.push_back({"max_connections_per_client", ConfigType::integer, "256",
                  "open connections per client address; 0: no limit"});
  keys.push_back({"cors_origins", ConfigType::string, "*",
                  "origins whose web players may read HLS responses (comma-separated), or *"});
  return keys;
}

std::optional<Url> url_flag(const Config& cfg, const std::string& key) {
  if (cfg.str(key).empty()) return std::nullopt;
  auto url = Url::parse(cfg.str(key));
  if (!url) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key + ": " +
                      url.error().message);
  }
  return *url;
}

// Several origins, or $SHOAL_ORIGIN, as every client of the origins takes them.
EndpointList origin_list(const Config& cfg) {
  auto list = endpoints_from(cfg, "origin", "SHOAL_ORIGIN", "origin");
  if (!list) throw ConfigError(list.error().message);
  return *list;
}

std::vector<std::string> split_list(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item(text::trim_space(
        list.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

uint32_t bounded(const Config& cfg, const std::string& key, int64_t lo, int64_t hi) {
  int64_t v = cfg.integer(key);
  if (v < lo || v > hi) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key + ": expected " +
                      std::to_string(lo) + " to " + std::to_string(hi));
  }
  return static_cast<uint32_t>(v);
}

edge::EdgeOptions edge_options(const Config& cfg) {
  edge::EdgeOptions o;
  o.data_dir = cfg.str("data");
  o.origins = origin_list(cfg);
  o.peer = url_flag(cfg, "peer");
  o.fill_client.io_timeout = cfg.duration("fill_timeout");
  o.fill_client.connect_timeout = std::chrono::milliseconds(5000);
  o.fill_client.user_agent = "shoal-edge";
  o.mem_cache_bytes = cfg.size("mem_cache");
  o.mem_object_max = cfg.size("mem_object_max");
  o.disk_cache_bytes = cfg.size("disk_cache");
  o.max_fills = bounded(cfg, "max_fills", 1, 4096);
  o.requests_per_second = bounded(cfg, "rate_limit_requests", 0, 10'000'000);
  o.bytes_per_second = static_cast<double>(cfg.size("rate_limit_bytes"));
  if (cfg.duration("fill_timeout").count() <= 0) throw ConfigError("fill_timeout must be positive");
  o.cors_origins = split_list(cfg.str("cors_origins"));
  return o;
}

void add_listeners(const Config& cfg, http::ServerOptions& s) {
  if (!cfg.str("plain_listen").empty()) {
    if (!parse_host_port(cfg.str("plain_listen"), s.plain_host, s.plain_port)) {
      throw ConfigError("invalid value \"" + cfg.str("plain_listen") +
                        "\" for plain_listen: expected HOST:PORT");
    }
    if (s.tls_cert_file.empty()) {
      throw ConfigError(
          "plain_listen is for a plain listener next to HTTPS: give tls_cert and tls_key");
    }
  }
  s.max_connections = bounded(cfg, "max_connections", 1, 10'000'000);
  s.max_connections_per_client = bounded(cfg, "max_connections_per_client", 0, 10'000'000);
}

}  // namespace

int edge_main(const Args& args) {
  Config cfg(edge_keys());
  if (!parse_server_command(cfg, args, "edge")) return 0;
  auto server_opts = server_options_from(cfg);
  add_listeners(cfg, server_opts);
  server_opts.server_name = "shoal-edge";
  auto opts = edge_options(cfg);
  if (config_checked(cfg, "edge")) return 0;
  edge::Edge edge(opts);
  http::Server server(server_opts, [&edge](http::Exchange& ex) { return edge.handle(ex); });
  server.export_metrics(edge.registry());
  log_listening(server, "edge", opts.data_dir.string());
  if (auto plain = server.plain_url(); !plain.empty()) {
    log::info("plain listener", {{"component", "edge"}, {"url", plain}});
  }
  server.every(std::chrono::milliseconds(1000), [&edge] { edge.housekeeping(); });
  server.run();
  edge.stop();
  return 0;
}

}  // namespace shoal::cli
