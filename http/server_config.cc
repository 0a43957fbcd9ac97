#include "http/server_config.h"

#include <cstdio>

#include "http/h3/datagram_size.h"
#include "core/endpoint_list.h"
#include "core/log.h"
#include "core/url.h"

namespace shoal {

std::vector<ConfigKey> server_config_keys(const std::string& default_listen) {
  return {
      {"listen", ConfigType::address, default_listen,
       "address to listen on; port 0 picks a free port"},
      {"data", ConfigType::string, "./shoal-data", "data directory"},
      {"config", ConfigType::string, "", "configuration file (key = value lines)"},
      {"threads", ConfigType::integer, "2", "event-loop threads"},
      {"read_timeout", ConfigType::duration, "30s",
       "longest wait for a client's next bytes mid-request"},
      {"idle_timeout", ConfigType::duration, "60s",
       "how long an idle keep-alive connection stays open"},
      {"max_header_size", ConfigType::size, "16KiB", "largest accepted request head"},
      {"tls_cert", ConfigType::string, "", "PEM certificate chain; with tls_key, serve HTTPS"},
      {"tls_key", ConfigType::string, "", "PEM private key"},
      {"http2", ConfigType::boolean, "true",
       "offer HTTP/2 to TLS clients (ALPN h2); false: HTTP/1.1 only"},
      {"max_concurrent_streams", ConfigType::integer, "100",
       "HTTP/2 and HTTP/3 streams (and running handlers) per connection",
       {"h2_max_concurrent_streams"}},
      {"http3", ConfigType::boolean, "true",
       "with TLS: serve HTTP/3 (QUIC) on UDP at the listen port, advertised by Alt-Svc"},
      {"h3_retry", ConfigType::boolean, "false",
       "QUIC address validation: new clients first get a Retry (one more round trip)"},
      {"h3_congestion_control", ConfigType::string, "bbr2",
       "QUIC congestion control: bbr2, cubic or reno"},
      {"h3_max_udp_payload", ConfigType::size, "0",
       "QUIC datagram payload sent to every client without path MTU discovery (1200 to "
       "65507; 8952 for jumbo frames); 0: discover up to 1452, and about 16KiB to clients on this "
       "host"},
      {"log_level", ConfigType::string, "info", "debug, info, warn or error"},
      {"check_config", ConfigType::boolean, "false",
       "check the flags and the configuration file, print what is wrong or that all is "
       "well, and exit without starting (as nginx -t)"},
  };
}

namespace {

http::CongestionControl congestion_control(const std::string& name) {
  if (name == "bbr2") return http::CongestionControl::bbr2;
  if (name == "cubic") return http::CongestionControl::cubic;
  if (name == "reno") return http::CongestionControl::reno;
  throw ConfigError("invalid value \"" + name +
                    "\" for h3_congestion_control: expected bbr2, cubic or reno");
}

}  // namespace

http::ServerOptions server_options_from(const Config& cfg) {
  http::ServerOptions o;
  if (!parse_host_port(cfg.str("listen"), o.host, o.port)) {
    throw ConfigError("invalid value \"" + cfg.str("listen") + "\" for listen: expected HOST:PORT");
  }
  int64_t threads = cfg.integer("threads");
  if (threads < 1 || threads > 256) {
    throw ConfigError("invalid value \"" + cfg.str("threads") +
                      "\" for threads: expected 1 to 256");
  }
  o.threads = static_cast<unsigned>(threads);
  o.read_timeout = cfg.duration("read_timeout");
  o.idle_timeout = cfg.duration("idle_timeout");
  uint64_t header = cfg.size("max_header_size");
  if (header < 1024 || header > (1u << 20)) {
    throw ConfigError("invalid value \"" + cfg.str("max_header_size") +
                      "\" for max_header_size: expected 1KiB to 1MiB");
  }
  o.max_header_size = static_cast<uint32_t>(header);
  o.http2 = cfg.boolean("http2");
  o.http3 = cfg.boolean("http3");
  o.h3_retry = cfg.boolean("h3_retry");
  o.h3_congestion_control = congestion_control(cfg.str("h3_congestion_control"));
  const uint64_t payload = cfg.size("h3_max_udp_payload");
  if (payload != 0 && (payload < 1200 || payload > http::h3::kMaxGsoBytes)) {
    throw ConfigError("invalid value \"" + cfg.str("h3_max_udp_payload") +
                      "\" for h3_max_udp_payload: expected 0 or 1200 to 65507");
  }
  o.h3_max_udp_payload = static_cast<uint32_t>(payload);
  int64_t streams = cfg.integer("max_concurrent_streams");
  if (streams < 1 || streams > 10000) {
    throw ConfigError("invalid value \"" + cfg.str("max_concurrent_streams") +
                      "\" for max_concurrent_streams: expected 1 to 10000");
  }
  o.max_concurrent_streams = static_cast<uint32_t>(streams);
  o.tls_cert_file = cfg.str("tls_cert");
  o.tls_key_file = cfg.str("tls_key");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    throw ConfigError("tls_cert and tls_key must be given together");
  }
  return o;
}

void configure_logging(const Config& cfg) {
  log::Level level;
  if (!log::parse_level(cfg.str("log_level"), level)) {
    throw ConfigError("invalid value \"" + cfg.str("log_level") +
                      "\" for log_level: expected debug, info, warn or error");
  }
  log::set_level(level);
  for (const std::string& note : cfg.deprecations()) log::warn(note);
}

bool parse_server_command(Config& cfg, const std::vector<std::string>& args,
                          const std::string& command) {
  cfg.parse_args(args);
  if (cfg.help_requested()) {
    std::printf("usage: shoal %s [flags]\n\n%s", command.c_str(), cfg.usage().c_str());
    return false;
  }
  if (!cfg.positional().empty())
    throw ConfigError("unexpected argument \"" + cfg.positional()[0] + "\"");
  configure_logging(cfg);
  return true;
}

bool config_checked(const Config& cfg, std::string_view command) {
  if (!cfg.boolean("check_config")) return false;
  std::printf("shoal %.*s: configuration OK\n", static_cast<int>(command.size()),
              command.data());
  return true;
}

void log_listening(const http::Server& server, std::string_view component,
                   std::string_view data_dir) {
  auto ep = server.local_endpoint();
  std::string addr = ep.address().to_string() + ":" + std::to_string(ep.port());
  std::string url = server.url();
  if (data_dir.empty()) {
    log::info("listening", {{"component", component}, {"addr", addr}, {"url", url}});
  } else {
    log::info("listening",
              {{"component", component}, {"addr", addr}, {"url", url}, {"data", data_dir}});
  }
}

std::vector<std::string> announce_urls(const std::string& list) {
  if (list.find_first_not_of(" \t") == std::string::npos) return {};
  auto parsed = EndpointList::parse(list);
  if (!parsed) throw ConfigError("invalid value for tracker: " + parsed.error().message);
  // An announce URL is fixed in every metainfo and torrent: it cannot follow DNS.
  if (parsed->from_dns()) {
    throw ConfigError("invalid value \"" + list +
                      "\" for tracker: give URL,URL,... (dns: lists are for origins)");
  }
  std::vector<std::string> out;
  for (const Url& url : parsed->urls()) {
    out.push_back(url.base_path.ends_with("/announce") ? url.str() : url.str() + "/announce");
  }
  return out;
}

}  // namespace shoal
