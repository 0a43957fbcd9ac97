// The configuration of a pull-through upstream registry: its keys (shared by every
// origin command, documented in docs/OPERATIONS.md) and the checks made at start-up,
// where a bad value is a ConfigError naming the key.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/url.h"
#include "storage/registry_client.h"

namespace shoal::storage {

class RegistryBackend;

struct UpstreamSpec {
  Url registry;
  std::optional<Credentials> credentials;
  std::string match = ".*";  // ECMAScript regex, matched against the whole name
  std::chrono::milliseconds tag_ttl{300'000};
};

// upstream_registry, upstream_credentials, upstream_match, upstream_tag_ttl.
std::vector<ConfigKey> upstream_config_keys();

// Without upstream_registry: nullopt (the other keys are then ignored). Throws
// ConfigError for a bad URL, an unreadable credentials file or one without "user:",
// a regex that does not compile, a negative TTL.
std::optional<UpstreamSpec> upstream_spec_from(const Config& cfg);

// "user:password" on the first line of the file; throws ConfigError.
Credentials read_credentials_file(const std::string& path);

std::unique_ptr<RegistryBackend> make_registry_backend(const UpstreamSpec& spec);

}  // namespace shoal::storage
