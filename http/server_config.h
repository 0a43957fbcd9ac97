// Configuration keys every Shoal server shares (listen address, timeouts, TLS,
// threads, logging) and their translation into http::ServerOptions.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "http/server.h"

namespace shoal {

// `default_listen` differs per component so they can run side by side.
std::vector<ConfigKey> server_config_keys(const std::string& default_listen);
// Throws ConfigError for inconsistent values (tls_cert without tls_key, threads 0).
http::ServerOptions server_options_from(const Config& cfg);
// Applies log_level; throws ConfigError for an unknown level.
void configure_logging(const Config& cfg);
// The start-up every server command shares: parses flags (and --config), prints the
// usage for --help (then returns false), rejects positional arguments and applies
// log_level. Throws ConfigError.
bool parse_server_command(Config& cfg, const std::vector<std::string>& args,
                          const std::string& command);
// Logs the "listening" line scripts and tests look for (component, addr, url, and
// the data directory when there is one).
// With check_config set: says the configuration is OK and returns true, so the command
// exits before it opens its data directory or binds (every value was checked by then).
bool config_checked(const Config& cfg, std::string_view command);
void log_listening(const http::Server& server, std::string_view component,
                   std::string_view data_dir = {});

// "http://t:4200, http://u:4200/announce" → announce URLs: a tracker's base URL gets
// /announce appended (libtorrent's loopback SSRF guard wants the path to start with
// /announce). Throws ConfigError naming the `tracker` key.
std::vector<std::string> announce_urls(const std::string& list);

}  // namespace shoal
