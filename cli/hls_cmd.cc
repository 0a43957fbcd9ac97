// `shoal hls publish|live`: package video for HLS and store it on the origin as
// content-addressed blobs plus one manifest, tagged hls/NAME, that every edge turns
// into playlists. This file dispatches and holds what both subcommands share.
#include <stdlib.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/client_common.h"
#include "cli/hls_ingest.h"
#include "core/oci/oci.h"

namespace shoal::cli {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop(int sig) {
  if (g_stop_signal != 0) {  // asked twice: stop now, the way the signal would have
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_stop_signal = sig;
}

constexpr const char* kUsage =
    "usage: shoal hls publish INPUT --name NAME [flags]\n"
    "       shoal hls live INPUT|testsrc --name NAME [flags]\n"
    "\n"
    "publish  a video file: transcode it to an H.264/AAC ladder of fMP4 HLS renditions,\n"
    "         upload the segments and tag the package hls/NAME (a no-op when the same\n"
    "         file and ladder made the current package);\n"
    "         a directory or .m3u8 a packager wrote: upload its segments as they are.\n"
    "live     transcode INPUT at real time (or the testsrc pattern) and move hls/NAME to\n"
    "         a sliding window of the newest segments as each one is finished.\n"
    "\n"
    "The edge serves /hls/NAME/master.m3u8. `shoal hls publish --help` lists the flags.\n";

}  // namespace

int hls_main(const Args& args) {
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Args rest(args.begin() + 1, args.end());
  if (sub == "publish") return hls_publish_main(rest);
  if (sub == "live") return hls_live_main(rest);
  fail("hls", "unknown subcommand \"" + sub + "\" (expected publish or live)");
  return 2;
}

std::vector<ConfigKey> hls_keys(std::string_view default_segment_seconds) {
  std::vector<ConfigKey> keys;
  keys.push_back({"name", ConfigType::string, "", "publish as hls/NAME (served at /hls/NAME/)"});
  keys.push_back({"origin", ConfigType::string, "", "origin URL (else $SHOAL_ORIGIN)"});
  keys.push_back({"ladder", ConfigType::string, "1080p,720p,360p",
                  "renditions, those taller than the source left out; 480p:1400k/96k sets rates"});
  keys.push_back({"segment_seconds", ConfigType::string, std::string(default_segment_seconds),
                  "target segment length; keyframes are forced at these boundaries"});
  for (auto& k : client_schema_keys()) keys.push_back(std::move(k));
  return keys;
}

Result<HlsSettings> hls_settings(const Config& cfg) {
  HlsSettings s;
  s.name = cfg.str("name");
  if (s.name.empty())
    return Error(Errc::bad_request, "give --name NAME (the package is tagged hls/NAME)");
  if (!oci::valid_tag(s.name)) {
    return Error(Errc::bad_request,
                 "invalid --name \"" + s.name +
                     "\" (expected [A-Za-z0-9_][A-Za-z0-9._-]*, up to 128 characters)");
  }
  auto ladder = parse_ladder(cfg.str("ladder"));
  if (!ladder) return Error(ladder.error().code, "--ladder: " + ladder.error().message);
  s.ladder = *ladder;
  std::string seg = cfg.str("segment_seconds");
  char* end = nullptr;
  s.segment_seconds = std::strtod(seg.c_str(), &end);
  if (seg.empty() || *end != '\0' || !std::isfinite(s.segment_seconds) || s.segment_seconds < 1 ||
      s.segment_seconds > 60) {
    return Error(Errc::bad_request, "invalid --segment-seconds \"" + seg + "\" (expected 1 to 60)");
  }
  s.quiet = cfg.boolean("quiet");
  return s;
}

Result<std::unique_ptr<HlsOrigin>> connect_origin(const Config& cfg) {
  auto url = endpoint_from(cfg, "origin", "SHOAL_ORIGIN", "origin");
  if (!url) return url.error();
  auto auth = auth_headers(cfg);
  if (!auth) return auth.error();
  return std::make_unique<HlsOrigin>(*url, *auth, client_options(cfg));
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked poll() returns so the flag is seen
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // a background job stays immune
    ::sigaction(sig, &sa, nullptr);
  }
}

bool stop_requested() { return g_stop_signal != 0; }
int stop_signal() { return g_stop_signal; }

Result<TempDir> TempDir::create(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return errno_error(errno, "create a temporary directory " + tmpl);
  return TempDir(tmpl);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace shoal::cli
