#include "core/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "core/text.h"

namespace shoal {
namespace {

constexpr size_t kMaxConfigFileBytes = 1 << 20;  // a config file, not a data file

using text::trim;

// K, M, G, T (with or without "iB") are powers of 1024, as operators mean them for
// memory and disk budgets; KB, MB, GB, TB are the SI powers of 1000.
std::optional<uint64_t> size_multiplier(std::string_view unit) {
  if (unit.empty() || unit == "B") return 1;
  constexpr std::string_view kPrefixes = "KMGT";
  size_t power = kPrefixes.find(unit[0]) + 1;  // 0 when not a prefix
  std::string_view rest = unit.substr(1);
  if (power == 0 || (!rest.empty() && rest != "iB" && rest != "B")) return std::nullopt;
  uint64_t base = rest == "B" ? 1000 : 1024;
  uint64_t factor = 1;
  for (size_t i = 0; i < power; ++i) factor *= base;
  return factor;
}

size_t leading_digits(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  return n;
}

// Characters that would make a host ambiguous inside a URL or an address list.
bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  return std::none_of(host.begin(), host.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u >= 0x7f || std::strchr("/[]@?#", c) != nullptr;
  });
}

struct TypeInfo {
  const char* word;      // in usage() and errors
  const char* expected;  // what an invalid value should have looked like
};

const TypeInfo& type_info(ConfigType type) {
  // In ConfigType order.
  static constexpr TypeInfo kInfo[] = {
      {"string", "expected a string"},
      {"bool", "expected true or false"},
      {"integer", "expected an integer"},
      {"size", "expected a size such as 512MiB"},
      {"duration", "expected a duration such as 500ms, 30s, 5m or 2h"},
      {"host:port", "expected HOST:PORT such as 127.0.0.1:4100"}};
  static_assert(std::size(kInfo) == static_cast<size_t>(ConfigType::address) + 1);
  return kInfo[static_cast<size_t>(type)];
}

bool valid_value(ConfigType type, std::string_view v) {
  std::string host;
  uint16_t port = 0;
  switch (type) {
    case ConfigType::string: return true;
    case ConfigType::boolean: return parse_bool(v).has_value();
    case ConfigType::integer: return text::parse_int<int64_t>(v).has_value();
    case ConfigType::size: return parse_size(v).has_value();
    case ConfigType::duration: return parse_duration(v).has_value();
    case ConfigType::address: return parse_host_port(v, host, port);
  }
  return false;
}

bool valid_key_name(std::string_view name) {
  return !name.empty() && name[0] >= 'a' && name[0] <= 'z' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

std::string flag_spelling(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return "--" + name;
}

std::string where_prefix(const std::string& origin) {
  return (origin.empty() ? std::string("config") : origin) + ": ";
}

std::string read_small_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ConfigError("config file " + path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, f.get())) {
    text.append(buf, n);
    if (text.size() > kMaxConfigFileBytes) throw ConfigError("config file " + path + ": too large");
  }
  if (std::ferror(f.get())) {
    throw ConfigError("config file " + path + ": cannot read: " + std::strerror(errno));
  }
  return text;
}

// The value part of `key = value`: optionally double-quoted (no escapes inside,
// so '#' is literal there); otherwise '#' after whitespace starts a comment.
std::string file_value(std::string_view raw, const std::string& where) {
  std::string_view v = trim(raw);
  if (v.starts_with('"')) {
    size_t close = v.find('"', 1);
    if (close == std::string_view::npos) throw ConfigError(where + ": unterminated quoted value");
    std::string_view rest = trim(v.substr(close + 1));
    if (!rest.empty() && rest[0] != '#') {
      throw ConfigError(where + ": unexpected text after quoted value");
    }
    return std::string(v.substr(1, close - 1));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t'))
      return std::string(trim(v.substr(0, i)));
  }
  return std::string(v);
}

// The value after '=', "true" for a bare bool flag, or else the next argument,
// which must not look like a flag: `--data --quiet` is a forgotten value.
std::string flag_value(const std::vector<std::string>& args, size_t& i, bool is_bool) {
  const std::string& arg = args[i];
  if (size_t eq = arg.find('='); eq != std::string::npos) return arg.substr(eq + 1);
  if (is_bool) return "true";
  if (i + 1 < args.size() && !args[i + 1].starts_with("--")) return args[++i];
  throw ConfigError("flag " + arg + " needs a value");
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t n = leading_digits(text);
  std::optional<uint64_t> number = text::parse_uint<uint64_t>(text.substr(0, n));
  std::optional<uint64_t> factor = size_multiplier(text.substr(n));
  uint64_t bytes = 0;
  if (!number || !factor || __builtin_mul_overflow(*number, *factor, &bytes)) return std::nullopt;
  return bytes;
}

// A unit is required: a bare "30" could mean seconds or milliseconds, and a wrong
// guess on a timeout is a silent 1000x error.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  size_t n = leading_digits(text);
  std::optional<uint64_t> number = text::parse_uint<uint64_t>(text.substr(0, n));
  std::string_view unit = text.substr(n);
  int64_t factor = 0;
  if (unit == "ms") factor = 1;
  if (unit == "s") factor = 1000;
  if (unit == "m") factor = 60'000;
  if (unit == "h") factor = 3'600'000;
  if (!number || factor == 0) return std::nullopt;
  auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / factor);
  if (*number > max) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(*number) * factor);
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

bool parse_host_port(std::string_view text, std::string& host, uint16_t& port) {
  std::string_view h;
  std::string_view p;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return false;
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) return false;  // bare IPv6 needs brackets
  }
  // 65536: invalid
  uint64_t number = p.size() <= 5 ? text::parse_uint<uint64_t>(p).value_or(65536) : 65536;
  if (!valid_host(h) || number > 65535) return false;
  host = std::string(h);
  port = static_cast<uint16_t>(number);
  return true;
}

Config::Config(std::vector<ConfigKey> schema) : schema_(std::move(schema)) {
  for (const ConfigKey& k : schema_) {
    if (!valid_key_name(k.name) || values_.count(k.name) != 0) {
      throw ConfigError("config schema: invalid or duplicate key \"" + k.name + "\"");
    }
    if (!k.default_value.empty() && !valid_value(k.type, k.default_value)) {
      throw ConfigError("config schema: invalid default \"" + k.default_value + "\" for " + k.name);
    }
    values_[k.name] = k.default_value;
  }
}

const ConfigKey& Config::key(const std::string& name) const {
  for (const ConfigKey& k : schema_) {
    if (k.name == name) return k;
  }
  throw ConfigError("config: no key \"" + name + "\" in this command's schema");
}

std::string Config::canonical(const std::string& name) {
  for (const ConfigKey& k : schema_) {
    if (std::find(k.deprecated_names.begin(), k.deprecated_names.end(), name) ==
        k.deprecated_names.end()) {
      continue;
    }
    std::string note = "config key " + name + " is deprecated: use " + k.name;
    if (std::find(deprecations_.begin(), deprecations_.end(), note) == deprecations_.end()) {
      deprecations_.push_back(std::move(note));
    }
    return k.name;
  }
  return name;
}

void Config::set(const std::string& given, const std::string& value, const std::string& origin) {
  const std::string name = canonical(given);
  if (values_.count(name) == 0)
    throw ConfigError(where_prefix(origin) + "unknown key \"" + name + "\"");
  ConfigType type = key(name).type;
  if (!valid_value(type, value)) {
    throw ConfigError(where_prefix(origin) + "invalid value \"" + value + "\" for " + name + ": " +
                      type_info(type).expected);
  }
  values_[name] = value;
  explicitly_set_[name] = true;
}

void Config::load_file(const std::string& path) {
  std::string text = read_small_file(path);
  std::string_view rest = text;
  for (int line_no = 1; !rest.empty(); ++line_no) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.starts_with('#')) continue;
    std::string where = "config file " + path + " line " + std::to_string(line_no);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) throw ConfigError(where + ": expected key = value");
    std::string name(trim(line.substr(0, eq)));
    if (name.empty()) throw ConfigError(where + ": missing key before '='");
    set(name, file_value(line.substr(eq + 1), where), where);
  }
}

void Config::parse_args(const std::vector<std::string>& args) {
  struct Pending {
    std::string name, value, origin;
  };
  std::vector<Pending> pending;
  std::vector<std::string> files;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positional || !arg.starts_with("--")) {
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;  // the usual convention for values that start with "--"
      continue;
    }
    std::string flag = arg.substr(0, arg.find('='));
    if (flag == "--help") {
      help_ = true;
      continue;
    }
    std::string name = flag.substr(2);
    std::replace(name.begin(), name.end(), '-', '_');
    name = canonical(name);
    bool in_schema = values_.count(name) != 0;
    bool is_config = name == "config";  // understood by every command
    if (!in_schema && !is_config) throw ConfigError("unknown flag " + flag + " (try --help)");
    bool is_bool = !is_config && key(name).type == ConfigType::boolean;
    std::string value = flag_value(args, i, is_bool);
    if (is_config) files.push_back(value);
    if (in_schema) pending.push_back({name, value, "flag " + flag});
  }
  // Files first, wherever --config appeared: flags always win over the file.
  for (const std::string& f : files) load_file(f);
  for (const Pending& p : pending) set(p.name, p.value, p.origin);
}

bool Config::is_set(const std::string& name) const {
  key(name);
  return explicitly_set_.count(name) != 0;
}

std::string Config::str(const std::string& name) const {
  key(name);
  return values_.at(name);
}

namespace {

// Unset values of these types read as their natural zero; set() and the
// constructor already rejected anything the parsers would refuse.
template <class T, class Parser>
T typed_value(const ConfigKey& k, ConfigType wanted, const std::string& v, Parser parse) {
  if (k.type != wanted) {
    throw ConfigError("config: key " + k.name + " is of type " + type_info(k.type).word + ", not " +
                      type_info(wanted).word);
  }
  return v.empty() ? T{} : parse(v).value_or(T{});
}

}  // namespace

bool Config::boolean(const std::string& name) const {
  return typed_value<bool>(key(name), ConfigType::boolean, values_.at(name), parse_bool);
}

int64_t Config::integer(const std::string& name) const {
  return typed_value<int64_t>(key(name), ConfigType::integer, values_.at(name),
                              text::parse_int<int64_t>);
}

uint64_t Config::size(const std::string& name) const {
  return typed_value<uint64_t>(key(name), ConfigType::size, values_.at(name), parse_size);
}

std::chrono::milliseconds Config::duration(const std::string& name) const {
  using std::chrono::milliseconds;
  return typed_value<milliseconds>(key(name), ConfigType::duration, values_.at(name),
                                   parse_duration);
}

// A bool flag is shown without a type: "--quiet true" would make "true" positional.
std::string Config::usage() const {
  std::vector<std::string> left;
  size_t width = 0;
  for (const ConfigKey& k : schema_) {
    std::string l = "  " + flag_spelling(k.name);
    if (k.type != ConfigType::boolean) l += std::string(" ") + type_info(k.type).word;
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  std::string out;
  for (size_t i = 0; i < schema_.size(); ++i) {
    out += left[i] + std::string(width - left[i].size() + 3, ' ') + schema_[i].help;
    if (!schema_[i].default_value.empty()) out += " (default: " + schema_[i].default_value + ")";
    out += '\n';
  }
  return out;
}

}  // namespace shoal
