#include "cli/client_common.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/file_io.h"
#include "core/sha256.h"
#include "core/text.h"

namespace shoal::cli {

std::vector<ConfigKey> client_schema_keys() {
  return {
      {"token_file", ConfigType::string, "", "file holding the bearer token (else $SHOAL_TOKEN)"},
      {"insecure", ConfigType::boolean, "false", "do not verify the server's TLS certificate"},
      {"ca_file", ConfigType::string, "", "PEM file of CAs to trust instead of the system's"},
      {"connect_timeout", ConfigType::duration, "10s", "time allowed to connect"},
      {"timeout", ConfigType::duration, "60s", "time allowed for each read or write"},
      {"quiet", ConfigType::boolean, "false", "no progress bar"},
  };
}

http::ClientOptions client_options(const Config& cfg) {
  http::ClientOptions o;
  o.verify_tls = !cfg.boolean("insecure");
  o.ca_file = cfg.str("ca_file");
  o.connect_timeout = cfg.duration("connect_timeout");
  o.io_timeout = cfg.duration("timeout");
  return o;
}

Result<http::Headers> auth_headers(const Config& cfg) {
  std::string token;
  if (std::string file = cfg.str("token_file"); !file.empty()) {
    auto contents = read_small_file(file, 4096);
    if (!contents) return Error(contents.error().code, "token file: " + contents.error().message);
    std::string_view all = text::trim_space(*contents);
    token = text::trim_space(all.substr(0, all.find('\n')));  // a server's token file may
                                                              // list several
    if (token.empty()) return Error(Errc::bad_request, "token file " + file + " is empty");
  } else if (const char* env = std::getenv("SHOAL_TOKEN")) {
    token = text::trim_space(env);
  }
  if (token.empty()) return http::Headers{};
  return http::Headers{{"Authorization", "Bearer " + token}};
}

namespace {

Result<std::string> endpoint_text(const Config& cfg, const std::string& key, const char* env,
                                  std::string_view role) {
  std::string text = cfg.str(key);
  if (text.empty() && std::getenv(env)) text = std::getenv(env);
  if (text.empty()) {
    return Error(Errc::bad_request,
                 "no " + std::string(role) + ": give --" + key + " URL or set " + env);
  }
  return text;
}

}  // namespace

Result<Url> endpoint_from(const Config& cfg, const std::string& key, const char* env,
                          std::string_view role) {
  auto text = endpoint_text(cfg, key, env, role);
  if (!text) return text.error();
  return Url::parse(*text);
}

Result<EndpointList> endpoints_from(const Config& cfg, const std::string& key, const char* env,
                                    std::string_view role) {
  auto text = endpoint_text(cfg, key, env, role);
  if (!text) return text.error();
  auto list = EndpointList::parse(*text);
  if (!list) return Error(list.error().code, "--" + key + ": " + list.error().message);
  return list;
}

void announce_failover(http::Upstreams& upstreams, bool quiet, Progress* progress) {
  if (quiet) return;
  upstreams.on_failover([role = upstreams.role(), progress](const Url& from, const Error& why,
                                                             const Url& to) {
    if (progress) progress->clear();
    std::fprintf(stderr, "%s %s failed (%s): continuing through %s\n", role.c_str(),
                 from.str().c_str(), why.message.c_str(), to.str().c_str());
  });
}

std::string content_range(uint64_t offset, uint64_t length) {
  return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1) + "/*";
}

std::optional<std::string> upload_id_from(const http::Response& r) {
  std::string location = r.header("Location");
  if (size_t slash = location.rfind('/');
      slash != std::string::npos && slash + 1 < location.size()) {
    std::string id = location.substr(slash + 1);
    if (size_t q = id.find('?'); q != std::string::npos) id.resize(q);
    if (!id.empty()) return id;
  }
  std::string id = http::json_string_field(r.body, "id");
  if (id.empty()) return std::nullopt;
  return id;
}

std::optional<uint64_t> upload_offset_from(const http::Response& r) {
  const std::string value = r.header("Upload-Offset");
  return text::parse_uint<uint64_t>(text::trim(value));
}

std::string resume_key(std::string_view abs_path, uint64_t size, int64_t mtime_ns,
                       std::string_view origin) {
  // NUL separators: no path or URL contains one, so distinct inputs never collide.
  std::string id = std::string(abs_path) + '\0' + std::to_string(size) + '\0' +
                   std::to_string(mtime_ns) + '\0' + std::string(origin);
  return Sha256::of(id.data(), id.size()).hex();
}

std::string default_state_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') {
    return std::string(xdg) + "/shoal";
  }
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/shoal";
  return "/tmp/shoal-" + std::to_string(::getuid());
}

std::string refusal(std::string_view role, const Url& url, std::string_view what,
                    const http::Response& r) {
  return std::string(role) + " " + url.str() + " refused the " + std::string(what) + ": " +
         http::describe_failure(r);
}

bool is_digest_syntax(std::string_view ref) { return ref.starts_with("sha256:"); }

Args expand_short_flags(const Args& args, std::initializer_list<std::pair<char, const char*>> map) {
  Args out;
  bool only_positional = false;
  for (const std::string& a : args) {
    only_positional = only_positional || a == "--";
    const std::pair<char, const char*>* hit = nullptr;
    for (const auto& m : map) {
      if (!only_positional && a.size() >= 2 && a[0] == '-' && a[1] == m.first) hit = &m;
    }
    if (!hit) {
      out.push_back(a);
    } else if (a.size() == 2) {
      out.push_back(std::string("--") + hit->second);
    } else {
      out.push_back(std::string("--") + hit->second + "=" + a.substr(2));
    }
  }
  return out;
}

int fail(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "shoal %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  return 1;
}

}  // namespace shoal::cli
