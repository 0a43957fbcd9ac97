// `shoal get URL`: a plain HTTP client over HTTP/1.1, HTTP/2 or HTTP/3 that knows
// Shoal's one rule, that a path naming a digest must deliver bytes hashing to it.
// With -o FILE the bytes go to FILE.part, renamed onto FILE only once complete and
// verified; with --parallel/--requests it becomes a load generator (cli/get_load.h).
// `shoal get PATH --origin URL,URL` asks the origins in turn, skipping one that cannot
// be reached or answers 5xx, as push and pull do.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/client_common.h"
#include "cli/commands.h"
#include "cli/get_load.h"
#include "cli/get_target.h"
#include "http/client.h"
#include "cli/output_file.h"
#include "core/file_io.h"
#include "core/store/hash_writer.h"

namespace shoal::cli {
namespace {

using get::digest_in_path;
using http::Protocol;
using get::split_url;
using get::Target;

constexpr int kExitFailed = 1, kExitUsage = 2, kExitMismatch = 3;

std::vector<ConfigKey> get_keys() {
  std::vector<ConfigKey> keys = {
      {"output", ConfigType::string, "", "file to write (-o FILE; default or - for stdout)"},
      {"protocol", ConfigType::string, "auto",
       "auto, http1.1, h2 or h3 (also --http1.1, --http2, --http3)"},
      {"parallel", ConfigType::integer, "0", "load generator: concurrent connections"},
      {"requests", ConfigType::integer, "0", "load generator: total GETs"},
      {"streams", ConfigType::integer, "1",
       "load generator: streams in flight per connection (HTTP/2; HTTP/1.1 has 1)"},
      {"json", ConfigType::boolean, "false", "load generator: summary as one JSON line"},
      {"verbose", ConfigType::boolean, "false", "say on stderr which protocol was used (-v)"},
      {"origin", ConfigType::string, "",
       "with a PATH for URL: the origins to ask, URL,URL,... or dns:NAME:PORT "
       "(else $SHOAL_ORIGIN)"},
  };
  for (auto& k : client_schema_keys()) keys.push_back(std::move(k));
  return keys;
}

// curl's spellings, which Config (only --snake-case-keys) cannot take as they are.
Args translate_flags(const Args& args) {
  Args out;
  for (const std::string& a : args) {
    if (a == "--http1.1")
      out.push_back("--protocol=http1.1");
    else if (a == "--http2")
      out.push_back("--protocol=h2");
    else if (a == "--http3")
      out.push_back("--protocol=h3");
    else if (a == "--cacert" || a.starts_with("--cacert="))
      out.push_back("--ca-file" + a.substr(8));
    else
      out.push_back(a);
  }
  return expand_short_flags(out, {{'o', "output"}, {'v', "verbose"}});
}

Result<Protocol> parse_protocol(const std::string& text) {
  if (text == "auto") return Protocol::automatic;
  if (text == "http1.1" || text == "http/1.1") return Protocol::http1;
  if (text == "h2" || text == "http2") return Protocol::http2;
  if (text == "h3" || text == "http3") return Protocol::http3;
  return Error(Errc::bad_request, "--protocol must be auto, http1.1, h2 or h3, not " + text);
}

struct Fetched {
  unsigned status = 0;
  uint64_t bytes = 0;
};

// One GET into fd, hashed on the way; a digest mismatch is Errc::digest_mismatch.
// `written` counts the bytes that went to fd, a failure's included.
Result<Fetched> fetch_into(http::Transport& t, const Target& target, const http::Headers& headers,
                           const std::optional<Digest>& expected, int fd, uint64_t& written) {
  HashWriter writer(fd);
  Fetched f;
  auto sink = [&](const char* data, size_t n) -> Result<void> {
    f.bytes += n;
    written += n;
    return writer.write(data, n);
  };
  auto r = t.download(target.path, headers, sink, {});
  auto hashed = writer.finish();  // always: the worker thread must stop before fd closes
  if (!r) return r.error();
  if (!r->success()) return Error(http::errc_for_status(r->status), http::describe_failure(*r));
  if (!hashed) return hashed.error();
  if (expected && *hashed != *expected) {
    return Error(Errc::digest_mismatch,
                 "the body hashes to " + hashed->str() + ", not " + expected->str());
  }
  f.status = r->status;
  return f;
}

// A URL names its one server; a PATH goes to the origins (--origin or $SHOAL_ORIGIN).
struct Where {
  EndpointList list;
  std::string role;
  std::string path;
};

Result<Where> servers_of(const Config& cfg, const std::string& arg) {
  if (arg.starts_with('/')) {
    auto origins = endpoints_from(cfg, "origin", "SHOAL_ORIGIN", "origin");
    if (!origins) return origins.error();
    return Where{*origins, "origin", arg.substr(0, arg.find('#'))};
  }
  if (!cfg.str("origin").empty())
    return Error(Errc::bad_request, "with --origin, give a PATH (/blobs/...), not a URL");
  auto target = split_url(arg);
  if (!target) return target.error();
  return Where{EndpointList::of({target->base}), "server", target->path};
}

int exit_status(const Error& e) {
  return e.is(Errc::digest_mismatch) ? kExitMismatch : kExitFailed;
}

// What is asked of whom: one server (a URL was given), or the origins (a PATH).
struct Request {
  http::Upstreams& servers;
  http::Protocol protocol;
  http::ClientOptions options;
  std::string path;
  http::Headers headers;
};

// fetch_into on each server in turn; `target` and `proto` say who answered last.
Result<Fetched> fetch_from_servers(const Request& req, const std::optional<Digest>& expected,
                                   int fd, Target& target, std::string_view& proto) {
  return req.servers.first_answer([&](const Url& server) -> Result<Fetched> {
    target = Target{server, req.path};
    auto t = http::open_transport(req.protocol, server, req.options);
    if (!t) return t.error();
    proto = http::protocol_name((*t)->protocol());
    uint64_t written = 0;
    auto got = fetch_into(**t, target, req.headers, expected, fd, written);
    if (got || !http::worth_another(got.error()) || written == 0 || rewind_output(fd)) return got;
    return Error(Errc::io_error,
                 got.error().message + " (the output has part of the body: no other origin tried)");
  });
}

int single_get(const Request& req, const std::string& output, bool verbose) {
  auto expected = digest_in_path(req.path);
  auto start = std::chrono::steady_clock::now();
  OutputFile part;
  bool to_stdout = output.empty() || output == "-";
  if (!to_stdout) {
    remove_output_on_signal();
    if (auto ok = part.create(output, output + ".part", /*exclusive=*/false); !ok) {
      return fail("get", ok.error().message);
    }
  }
  Target target;
  std::string_view proto = http::protocol_name(req.protocol);
  auto got = fetch_from_servers(req, expected, to_stdout ? STDOUT_FILENO : part.fd(), target,
                                proto);
  std::string url = target.base.host.empty() ? req.path : target.base.str() + target.path;
  if (!got && got.error().is(Errc::bad_request)) {  // a protocol the URL cannot carry
    fail("get", got.error().message);
    return kExitUsage;
  }
  if (!got) {
    std::string extra = got.error().is(Errc::digest_mismatch)
                            ? (to_stdout ? "; the output is corrupt" : "; nothing was written")
                            : "";
    fail("get", url + " over " + std::string(proto) + ": " + got.error().message + extra);
    return exit_status(got.error());
  }
  if (!to_stdout) {
    if (auto ok = part.commit(); !ok) return fail("get", ok.error().message);
  }
  if (verbose) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "shoal get: %s over %.*s: %u, %llu bytes in %.3f s%s\n", url.c_str(),
                 static_cast<int>(proto.size()), proto.data(), got->status,
                 static_cast<unsigned long long>(got->bytes), secs,
                 expected ? ", digest verified" : "");
  }
  return 0;
}

// Every connection goes to the first server that opened one.
int load_get(const Request& req, const Config& cfg) {
  Url base;
  auto first = req.servers.first_answer([&](const Url& server) {
    base = server;
    return http::open_transport(req.protocol, server, req.options);
  });
  if (!first) {
    fail("get", first.error().message);
    return first.error().is(Errc::bad_request) ? kExitUsage : kExitFailed;
  }
  get::LoadPlan plan{base, req.path, req.headers, digest_in_path(req.path)};
  int64_t parallel = cfg.integer("parallel"), requests = cfg.integer("requests");
  int64_t streams = cfg.integer("streams");
  if (parallel < 0 || requests < 0 || parallel > 4096 || streams < 1 || streams > 1000) {
    fail("get", "--parallel must be 1 to 4096, --streams 1 to 1000, --requests not negative");
    return kExitUsage;
  }
  plan.connections = static_cast<unsigned>(parallel > 0 ? parallel : 1);
  plan.streams = static_cast<unsigned>(streams);
  plan.requests = static_cast<uint64_t>(requests > 0 ? requests : plan.connections);
  auto summary = get::run_load(plan, std::move(*first), req.options);
  if (cfg.boolean("json"))
    std::printf("%s\n", get::format_summary_json(summary).c_str());
  else
    std::printf("%s", get::format_summary(summary).c_str());
  std::fflush(stdout);
  if (summary.failures == 0) return 0;
  fail("get", std::to_string(summary.failures) + " of " + std::to_string(summary.requests) +
                  " requests failed, the first: " + summary.first_error);
  return kExitFailed;
}

}  // namespace

int get_main(const Args& args) {
  Config cfg(get_keys());
  cfg.parse_args(translate_flags(args));
  if (cfg.help_requested()) {
    std::printf(
        "usage: shoal get URL [--http1.1|--http2|--http3] [-o FILE] [--insecure] [--cacert FILE]\n"
        "       shoal get PATH --origin URL,URL,... [flags as above]\n"
        "       shoal get URL --parallel C --requests N [--streams M] [--json]\n\n%s",
        cfg.usage().c_str());
    return 0;
  }
  if (cfg.positional().size() != 1) {
    fail("get", "expected one URL or PATH (usage: shoal get URL [-o FILE])");
    return kExitUsage;
  }
  auto protocol = parse_protocol(cfg.str("protocol"));
  auto where = protocol ? servers_of(cfg, cfg.positional()[0]) : Result<Where>(protocol.error());
  auto headers = auth_headers(cfg);
  if (!where || !headers) {
    fail("get", where ? headers.error().message : where.error().message);
    return kExitUsage;
  }
  bool load = cfg.is_set("parallel") || cfg.is_set("requests") || cfg.is_set("streams");
  if (load && cfg.is_set("output")) {
    fail("get", "-o cannot be combined with --parallel/--requests (bodies are discarded)");
    return kExitUsage;
  }
  http::Upstreams servers(std::move(where->list), where->role);
  announce_failover(servers, cfg.boolean("quiet"));
  Request req{servers, *protocol, client_options(cfg), where->path, *headers};
  if (load) return load_get(req, cfg);
  return single_get(req, cfg.str("output"), cfg.boolean("verbose"));
}

}  // namespace shoal::cli
