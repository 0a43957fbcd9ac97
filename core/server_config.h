// Configuration keys every Shoal server shares (listen address, timeouts, TLS,
// threads, logging) and their translation into http::ServerOptions.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/http_server.h"

namespace shoal {

// `default_listen` differs per component so they can run side by side.
std::vector<ConfigKey> server_config_keys(const std::string& default_listen);
// Throws ConfigError for inconsistent values (tls_cert without tls_key, threads 0).
http::ServerOptions server_options_from(const Config& cfg);
// Applies log_level; throws ConfigError for an unknown level.
void configure_logging(const Config& cfg);

}  // namespace shoal
