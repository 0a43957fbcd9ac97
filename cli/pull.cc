// `shoal pull REF -o FILE`: a verified download. Bytes stream into a hidden
// temporary file next to FILE and are hashed as they arrive; FILE appears (by
// rename, after fsync) only when they hash to the digest asked for. Any failure,
// including SIGINT/SIGTERM, removes the temporary file and leaves FILE as it was.
// With several origins, one that cannot be reached or answers 5xx is skipped, also
// mid-blob: the next sends the blob again from its first byte.
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/client_common.h"
#include "cli/commands.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "core/file_io.h"
#include "core/store/hash_writer.h"
#include "core/text.h"
#include "core/sha256.h"
#include "origin/names.h"

namespace shoal::cli {
namespace {

std::vector<ConfigKey> pull_keys() {
  std::vector<ConfigKey> keys;
  keys.push_back({"output", ConfigType::string, "", "file to write (-o FILE; - for stdout)"});
  keys.push_back({"origin", ConfigType::string, "",
                  "origin URL, URL,URL,... or dns:NAME:PORT (else $SHOAL_ORIGIN)"});
  keys.push_back({"peer", ConfigType::string, "",
                  "peer agent URL, preferred over the origin (else $SHOAL_PEER)"});
  for (auto& k : client_schema_keys()) keys.push_back(std::move(k));
  return keys;
}

struct Source {
  EndpointList list;
  std::string role;  // "origin" or "peer", as errors name it
};

// One peer agent (the host's own), or the origins.
Result<Source> parse_source(std::string_view text, const std::string& role) {
  if (role == "origin") {
    auto list = EndpointList::parse(text);
    if (!list) return list.error();
    return Source{*list, role};
  }
  auto url = Url::parse(text);
  if (!url) return url.error();
  return Source{EndpointList::of({*url}), role};
}

// Flags before environment; a peer before the origin at the same level.
Result<Source> pick_source(const Config& cfg) {
  for (const char* key : {"peer", "origin"}) {
    if (cfg.is_set(key) && !cfg.str(key).empty()) return parse_source(cfg.str(key), key);
  }
  for (auto [env, role] : {std::pair{"SHOAL_PEER", "peer"}, std::pair{"SHOAL_ORIGIN", "origin"}}) {
    if (const char* v = std::getenv(env); v && *v) return parse_source(v, role);
  }
  return Error(Errc::bad_request,
               "no source: give --peer URL or --origin URL, or set SHOAL_PEER or SHOAL_ORIGIN");
}

class Pull {
 public:
  Pull(Source src, http::Headers auth, const Config& cfg, FILE* progress_out, bool show)
      : sources_(std::move(src.list), src.role),
        auth_(std::move(auth)),
        options_(client_options(cfg)),
        progress_(progress_out, show, 0) {
    announce_failover(sources_, cfg.boolean("quiet"), &progress_);
  }

  Result<Digest> resolve(const std::string& ref);
  // Streams the blob into fd, hashing it; the returned error already names the source.
  Result<void> fetch(const Digest& digest, int fd, const std::string& what);
  void clear_progress() { progress_.clear(); }
  void finish_progress() { progress_.finish("pulled"); }

 private:
  std::string who() const { return sources_.role() + " " + client_->url().str(); }
  Result<void> fetch_from(const Url& source, const Digest& digest, int fd,
                          const std::string& what, uint64_t& written);

  http::Upstreams sources_;
  http::Headers auth_;
  http::ClientOptions options_;
  std::optional<http::Client> client_;  // to the source being asked
  Progress progress_;
};

Result<Digest> Pull::resolve(const std::string& ref) {
  if (is_digest_syntax(ref)) return Digest::parse(ref);
  if (!origin::valid_tag_name(ref)) {
    return Error(Errc::bad_request,
                 "\"" + ref + "\" is neither a digest (sha256:...) nor a tag name");
  }
  auto r = sources_.first_answer([&](const Url& source) {
    client_.emplace(source, options_);
    return client_->request("GET", "/tags/" + ref, auth_);
  });
  if (!r) return r.error();
  if (!r->success()) {
    return Error(http::errc_for_status(r->status),
                 who() + " could not resolve tag " + ref + ": " + http::describe_failure(*r));
  }
  auto digest = Digest::parse(text::trim_space(r->body));
  if (!digest)
    return Error(Errc::protocol_error, who() + " answered tag " + ref + " with no valid digest");
  return digest;
}

Result<void> Pull::fetch(const Digest& digest, int fd, const std::string& what) {
  return sources_.first_answer([&](const Url& source) -> Result<void> {
    uint64_t written = 0;
    auto ok = fetch_from(source, digest, fd, what, written);
    if (ok || !http::worth_another(ok.error()) || written == 0) return ok;
    progress_.rewind();
    if (rewind_output(fd)) return ok;
    return Error(Errc::io_error, ok.error().message + " (" + what +
                                     " already has part of the blob: no other source tried)");
  });
}

// One attempt; `written` counts the bytes that went to fd.
Result<void> Pull::fetch_from(const Url& source, const Digest& digest, int fd,
                              const std::string& what, uint64_t& written) {
  client_.emplace(source, options_);
  // Hashing and writing run on a second thread while the next buffer is received.
  HashWriter writer(fd);
  // An agent on this host checked every byte it sends against the digest; anything
  // further away is hashed here (the network between is not trusted).
  const bool local_agent = sources_.role() == "peer" && source.loopback();
  auto on_head = [&](const http::Response& head) -> Result<void> {
    if (head.status != 200)
      return Error(Errc::protocol_error, who() + " answered " + std::to_string(head.status));
    if (auto len = text::parse_uint<uint64_t>(head.header("Content-Length")))
      progress_.set_total(*len);
    if (local_agent && head.header("Shoal-Verified") == digest.str()) writer.vouched(digest);
    return {};
  };
  auto failed = [&](const Error& e) { return Error(e.code, "write " + what + ": " + e.message); };
  // The body is received straight into the writer's buffers: no copy in between.
  http::BodyBuffers into{[&]() -> Result<std::span<char>> {
                           auto slot = writer.acquire();
                           if (!slot) return failed(slot.error());
                           return slot;
                         },
                         [&](size_t n) -> Result<void> {
                           progress_.add(n);
                           written += n;
                           if (auto ok = writer.commit(n); !ok) return failed(ok.error());
                           return {};
                         }};
  auto r = client_->download_into("/blobs/" + digest.str(), auth_, into, on_head);
  if (!r) return r.error();
  if (!r->success()) {
    return Error(http::errc_for_status(r->status),
                 who() + " could not serve " + digest.str() + ": " + http::describe_failure(*r));
  }
  auto hashed = writer.finish();
  if (!hashed) return Error(hashed.error().code, "write " + what + ": " + hashed.error().message);
  const Digest& got = *hashed;
  if (got != digest) {
    return Error(Errc::digest_mismatch,
                 "the bytes from " + who() + " hash to " + got.str() + ", not " + digest.str());
  }
  return {};
}

// With -o -, the bytes go out as they arrive; a mismatch is only known at the end
// and can only be reported, by the exit status and the error line.
Result<void> pull_to_stdout(Pull& pull, const Digest& digest) {
  auto ok = pull.fetch(digest, STDOUT_FILENO, "to stdout");
  if (!ok && ok.error().is(Errc::digest_mismatch)) {
    return Error(ok.error().code, ok.error().message + "; the output is corrupt");
  }
  return ok;
}

Result<void> pull_to_file(Pull& pull, const Digest& digest, const std::string& path) {
  // A hidden name of its own: two pulls to one FILE never write into each other.
  namespace fs = std::filesystem;
  fs::path target(path);
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  auto temp =
      (fs::path(dir) / ("." + target.filename().string() + ".shoal-tmp-" + random_hex(6))).string();
  OutputFile tmp;
  if (auto ok = tmp.create(path, temp, /*exclusive=*/true); !ok) return ok;
  if (auto ok = pull.fetch(digest, tmp.fd(), path); !ok) {
    if (!ok.error().is(Errc::digest_mismatch)) return ok;
    return Error(ok.error().code, ok.error().message + "; nothing was written");
  }
  return tmp.commit();
}

}  // namespace

int pull_main(const Args& args) {
  Config cfg(pull_keys());
  cfg.parse_args(expand_short_flags(args, {{'o', "output"}, {'q', "quiet"}}));
  if (cfg.help_requested()) {
    std::printf("usage: shoal pull DIGEST|TAG -o FILE [flags]\n\n%s", cfg.usage().c_str());
    return 0;
  }
  std::string out = cfg.str("output");
  if (cfg.positional().size() != 1 || out.empty()) {
    fail("pull", "expected one DIGEST or TAG and -o FILE (usage: shoal pull REF -o FILE)");
    return 2;
  }
  auto src = pick_source(cfg);
  if (!src) return fail("pull", src.error().message);
  auto auth = auth_headers(cfg);
  if (!auth) return fail("pull", auth.error().message);
  FILE* progress_out = out == "-" ? stderr : stdout;  // never mix the bar into the data
  Pull pull(*src, *auth, cfg, progress_out,
            Progress::enabled_for(progress_out, cfg.boolean("quiet")));
  remove_output_on_signal();
  auto digest = pull.resolve(cfg.positional()[0]);
  Result<void> ok =
      digest ? (out == "-" ? pull_to_stdout(pull, *digest) : pull_to_file(pull, *digest, out))
             : Result<void>(digest.error());
  if (!ok) {
    pull.clear_progress();
    return fail("pull", ok.error().message);
  }
  pull.finish_progress();
  return 0;
}

}  // namespace shoal::cli
