// Configuration: one schema of typed keys per command; values come from defaults,
// then a config file (--config FILE), then command-line flags, later winning.
//
// File format (documented in docs/OPERATIONS.md):
//   # comment
//   listen = 127.0.0.1:4100
//   max_upload_size = 64GiB      # sizes: B, KiB, MiB, GiB, TiB (also K, M, G, T = powers of 1024;
//                                #        KB, MB, GB, TB = powers of 1000)
//   upload_idle_timeout = 30m    # durations: ms, s, m, h
//   token_file = "/etc/shoal/token"
// Flags: --max-upload-size 64GiB or --max-upload-size=64GiB (dashes for underscores);
// a bool flag alone (--quiet) means true.
//
// Every error names the key and the bad value, e.g.
//   config: invalid value "12XB" for max_upload_size: expected a size such as 512MiB
// and is thrown as ConfigError: configuration is start-up, where exceptions are fine.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace shoal {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ConfigType { string, boolean, integer, size, duration, address };

struct ConfigKey {
  std::string name;           // snake_case, as in files
  ConfigType type;
  std::string default_value;  // "" means unset unless the type has a natural zero
  std::string help;
  // Former names still accepted (files and flags), each with a deprecation note.
  std::vector<std::string> deprecated_names = {};
};

class Config {
 public:
  explicit Config(std::vector<ConfigKey> schema);

  // Parses flags (not including the program and subcommand names). "--config FILE"
  // is loaded before any other flag is applied; arguments not starting with "--" are
  // positional. "--help" sets help_requested(). Throws ConfigError.
  void parse_args(const std::vector<std::string>& args);
  void load_file(const std::string& path);  // throws ConfigError
  void set(const std::string& name, const std::string& value, const std::string& origin);

  bool is_set(const std::string& name) const;  // set by file or flag, not default
  std::string str(const std::string& name) const;
  bool boolean(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  uint64_t size(const std::string& name) const;
  std::chrono::milliseconds duration(const std::string& name) const;

  const std::vector<std::string>& positional() const { return positional_; }
  bool help_requested() const { return help_; }
  // One line per key: flag, type, default, help.
  std::string usage() const;
  // "key h2_max_concurrent_streams is deprecated: use max_concurrent_streams", once per
  // former name used; logged by the caller once logging is configured.
  const std::vector<std::string>& deprecations() const { return deprecations_; }

 private:
  const ConfigKey& key(const std::string& name) const;  // throws ConfigError if unknown
  // The schema name for `name`, which may be a deprecated former name (noted once).
  std::string canonical(const std::string& name);
  std::vector<ConfigKey> schema_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> explicitly_set_;
  std::vector<std::string> positional_;
  bool help_ = false;
  std::vector<std::string> deprecations_;
};

// Value parsers shared with other parsers; nullopt on malformed input.
std::optional<uint64_t> parse_size(std::string_view text);
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::optional<bool> parse_bool(std::string_view text);  // true/false/yes/no/on/off/1/0
// "HOST:PORT" or "[V6]:PORT", port 0..65535.
bool parse_host_port(std::string_view text, std::string& host, uint16_t& port);

}  // namespace shoal
