#include "storage/upstream_spec.h"

#include <regex>

#include "core/file_io.h"
#include "storage/registry_backend.h"

namespace shoal::storage {

std::vector<ConfigKey> upstream_config_keys() {
  return {
      {"upstream_registry", ConfigType::string, "",
       "URL of a registry to pull through from on a miss (read-only); empty: none"},
      {"upstream_credentials", ConfigType::string, "",
       "file holding user:password for the upstream registry (Basic or its token server)"},
      {"upstream_match", ConfigType::string, ".*",
       "regex (ECMAScript, whole name) of the repositories pulled through"},
      {"upstream_tag_ttl", ConfigType::duration, "5m",
       "how long a tag resolved upstream is served before it is asked again"},
  };
}

Credentials read_credentials_file(const std::string& path) {
  auto text = read_small_file(path, 64 << 10);
  if (!text) {
    throw ConfigError("cannot read upstream_credentials " + path + ": " + text.error().message);
  }
  std::string line = text->substr(0, text->find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw ConfigError("upstream_credentials " + path +
                      ": expected user:password on the first line");
  }
  return {line.substr(0, colon), line.substr(colon + 1)};
}

std::optional<UpstreamSpec> upstream_spec_from(const Config& cfg) {
  const std::string url = cfg.str("upstream_registry");
  if (url.empty()) return std::nullopt;
  UpstreamSpec spec;
  auto parsed = Url::parse(url);
  if (!parsed) {
    throw ConfigError("invalid value \"" + url + "\" for upstream_registry: " +
                      parsed.error().message);
  }
  spec.registry = *parsed;
  if (const std::string file = cfg.str("upstream_credentials"); !file.empty())
    spec.credentials = read_credentials_file(file);
  spec.match = cfg.str("upstream_match");
  try {
    std::regex check(spec.match, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw ConfigError("invalid value \"" + spec.match + "\" for upstream_match: " + e.what());
  }
  spec.tag_ttl = cfg.duration("upstream_tag_ttl");
  if (spec.tag_ttl.count() < 0) {
    throw ConfigError("invalid value \"" + cfg.str("upstream_tag_ttl") +
                      "\" for upstream_tag_ttl: must not be negative");
  }
  return spec;
}

std::unique_ptr<RegistryBackend> make_registry_backend(const UpstreamSpec& spec) {
  return std::make_unique<RegistryBackend>(spec);
}

}  // namespace shoal::storage
