// `shoal hls publish|live`: package video for HLS and store it on the origin as
// content-addressed blobs plus one manifest, tagged hls/NAME, that every edge turns
// into playlists. The work is in publish/; this file reads the flags, turns Ctrl-C into
// a stop request and shows progress.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli/client_common.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/config.h"
#include "core/oci/oci.h"
#include "publish/live.h"
#include "publish/vod.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop(int sig) {
  if (g_stop_signal != 0) {  // asked twice: stop now, the way the signal would have
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_stop_signal = sig;
}

// SIGINT/SIGTERM set a flag instead of killing us, so ffmpeg is stopped and temporary
// files are removed; a blocked poll() returns early with EINTR.
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

// Flags both subcommands take, on top of the client flags.
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

// Errc::bad_request naming the flag for anything wrong.
Result<publish::Settings> hls_settings(const Config& cfg) {
  publish::Settings s;
  s.name = cfg.str("name");
  if (s.name.empty())
    return Error(Errc::bad_request, "give --name NAME (the package is tagged hls/NAME)");
  if (!oci::valid_tag(s.name)) {
    return Error(Errc::bad_request,
                 "invalid --name \"" + s.name +
                     "\" (expected [A-Za-z0-9_][A-Za-z0-9._-]*, up to 128 characters)");
  }
  auto ladder = publish::parse_ladder(cfg.str("ladder"));
  if (!ladder) return Error(ladder.error().code, "--ladder: " + ladder.error().message);
  s.ladder = *ladder;
  std::string seg = cfg.str("segment_seconds");
  char* end = nullptr;
  s.segment_seconds = std::strtod(seg.c_str(), &end);
  if (seg.empty() || *end != '\0' || !std::isfinite(s.segment_seconds) || s.segment_seconds < 1 ||
      s.segment_seconds > 60) {
    return Error(Errc::bad_request, "invalid --segment-seconds \"" + seg + "\" (expected 1 to 60)");
  }
  return s;
}

// The origin client from --origin or $SHOAL_ORIGIN and the token flags.
Result<std::unique_ptr<publish::Origin>> connect_origin(const Config& cfg) {
  auto url = endpoint_from(cfg, "origin", "SHOAL_ORIGIN", "origin");
  if (!url) return url.error();
  auto auth = auth_headers(cfg);
  if (!auth) return auth.error();
  return std::make_unique<publish::Origin>(*url, *auth, client_options(cfg));
}

void report_counts(bool quiet, const publish::Origin& origin) {
  if (quiet) return;
  const auto& c = origin.counts();
  std::fprintf(stderr, "%llu blobs uploaded (%s), %llu already present\n",
               static_cast<unsigned long long>(c.uploaded), format_bytes(c.bytes_uploaded).c_str(),
               static_cast<unsigned long long>(c.present));
}

// Interrupted runs end with 128 + the signal, as if it had killed us.
int failed(const char* cmd, const Error& e) {
  int status = fail(cmd, e.message);
  return e.is(Errc::cancelled) && g_stop_signal ? 128 + g_stop_signal : status;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// "[=======>      ]  0:06 / 0:12  1.9x  ETA 0:03": transcoding progress in media time.
std::string render_transcode_line(size_t width, double done, double total,
                                  std::optional<double> speed) {
  std::string stats = "  " + format_eta(done) + " / " + format_eta(total);
  if (speed && *speed > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %.1fx", *speed);
    stats += buf;
    stats += "  ETA " + format_eta(std::max(0.0, total - done) / *speed);
  }
  if (width < stats.size() + 10 || total <= 0) return stats.substr(2);
  size_t inner = width - stats.size() - 2;
  auto filled =
      static_cast<size_t>(static_cast<double>(inner) * std::clamp(done / total, 0.0, 1.0));
  std::string bar = "[" + std::string(filled, '=');
  if (filled < inner) bar += ">" + std::string(inner - filled - 1, ' ');
  return bar + "]" + stats;
}

class TranscodeBar {
 public:
  TranscodeBar(FILE* out, bool enabled) : out_(out), enabled_(enabled) {
    winsize ws{};
    if (enabled_ && ::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
      width_ = ws.ws_col;
  }
  void update(double done, double total, std::optional<double> speed) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    std::fprintf(out_, "\r%s", render_transcode_line(width_ - 1, done, total, speed).c_str());
    std::fflush(out_);
    drawn_ = true;
  }
  void clear() {
    if (!drawn_) return;
    std::fprintf(out_, "\r%s\r", std::string(width_ - 1, ' ').c_str());
    std::fflush(out_);
    drawn_ = false;
  }

 private:
  FILE* out_;
  bool enabled_;
  size_t width_ = 80;
  bool drawn_ = false;
  Clock::time_point last_;
};

constexpr const char* kPublishCmd = "hls publish";

int publish_video(const publish::Settings& s, bool quiet, publish::Origin& origin,
                  const std::string& input) {
  TranscodeBar bar(stderr, Progress::enabled_for(stderr, quiet));
  publish::VodHooks hooks;
  hooks.cancelled = stop_requested;
  hooks.on_progress = [&](double done, double total, std::optional<double> speed) {
    bar.update(done, total, speed);
  };
  hooks.on_transcode_end = [&] { bar.clear(); };
  hooks.on_transcoded = [&](const publish::SourceInfo& info, size_t renditions, double took) {
    if (quiet) return;
    std::fprintf(stderr, "transcoded %s of %ux%u into %zu rendition%s in %s\n",
                 seconds_text(info.duration).c_str(), info.width, info.height, renditions,
                 renditions == 1 ? "" : "s", seconds_text(took).c_str());
  };
  auto done = publish::publish_video(s, origin, input, hooks);
  if (!done) return failed(kPublishCmd, done.error());
  if (done->unchanged) {
    if (!quiet) {
      std::fprintf(stderr, "already published: hls/%s is %s (same source and ladder)\n",
                   s.name.c_str(), done->package.str().c_str());
    }
  } else {
    report_counts(quiet, origin);
  }
  std::printf("%s\n", done->package.str().c_str());
  return 0;
}

int hls_publish_main(const Args& args) {
  Config cfg(hls_keys("4"));
  cfg.parse_args(expand_short_flags(args, {{'q', "quiet"}}));
  if (cfg.help_requested()) {
    std::printf(
        "usage: shoal hls publish INPUT --name NAME [flags]\n\n"
        "INPUT is a video file (transcoded to the ladder with ffmpeg), or a directory or\n"
        ".m3u8 file of HLS a packager already wrote (published as it is).\n\n%s",
        cfg.usage().c_str());
    return 0;
  }
  if (cfg.positional().size() != 1) {
    fail(kPublishCmd, "expected exactly one INPUT (usage: shoal hls publish INPUT --name NAME)");
    return 2;
  }
  auto settings = hls_settings(cfg);
  if (!settings) {
    fail(kPublishCmd, settings.error().message);
    return 2;
  }
  const bool quiet = cfg.boolean("quiet");
  auto origin = connect_origin(cfg);
  if (!origin) return fail(kPublishCmd, origin.error().message);
  install_stop_handlers();
  const std::string& input = cfg.positional()[0];
  std::error_code ec;
  if (!std::filesystem::is_directory(input, ec) && !input.ends_with(".m3u8"))
    return publish_video(*settings, quiet, **origin, input);
  auto digest = publish::publish_packaged(*settings, **origin, input, stop_requested);
  if (!digest) return failed(kPublishCmd, digest.error());
  report_counts(quiet, **origin);
  std::printf("%s\n", digest->str().c_str());
  return 0;
}

constexpr const char* kLiveCmd = "hls live";

Result<std::optional<double>> parse_duration_flag(const Config& cfg) {
  std::string text = cfg.str("duration");
  if (text.empty()) return std::optional<double>{};
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(d) || d <= 0)
    return Error(Errc::bad_request,
                 "invalid --duration \"" + text + "\" (expected seconds, e.g. 60)");
  return std::optional<double>{d};
}

int hls_live_main(const Args& args) {
  auto keys = hls_keys("2");
  keys.push_back(
      {"window", ConfigType::integer, "6", "segments in the live playlist (at least 3)"});
  keys.push_back(
      {"duration", ConfigType::string, "",
       "stop after this many seconds (default: at the end of INPUT, or when interrupted)"});
  Config cfg(keys);
  cfg.parse_args(expand_short_flags(args, {{'q', "quiet"}}));
  if (cfg.help_requested()) {
    std::printf(
        "usage: shoal hls live INPUT|testsrc --name NAME [flags]\n\n"
        "INPUT is read at real time; testsrc is a 1280x720 30 fps test pattern with a\n"
        "1 kHz tone. Ctrl-C ends the stream: the last package is published as ended.\n\n%s",
        cfg.usage().c_str());
    return 0;
  }
  if (cfg.positional().size() != 1) {
    fail(kLiveCmd,
         "expected exactly one INPUT or testsrc (usage: shoal hls live INPUT --name NAME)");
    return 2;
  }
  auto settings = hls_settings(cfg);
  auto duration = parse_duration_flag(cfg);
  int64_t window = cfg.integer("window");
  if (!settings || !duration || window < 3) {
    fail(kLiveCmd, !settings   ? settings.error().message
                   : !duration ? duration.error().message
                               : "--window must be at least 3 segments (players keep 3 target "
                                 "durations from the live edge)");
    return 2;
  }
  const bool quiet = cfg.boolean("quiet");
  auto origin = connect_origin(cfg);
  if (!origin) return fail(kLiveCmd, origin.error().message);
  publish::LiveOptions options{cfg.positional()[0], *duration, static_cast<size_t>(window)};
  publish::LiveHooks hooks;
  hooks.cancelled = stop_requested;
  hooks.on_segment = [&](const publish::LiveSegment& seg) {
    if (quiet) return;
    std::string sizes;
    for (const auto& [name, bytes] : seg.sizes)
      sizes += (sizes.empty() ? "" : ", ") + name + " " + format_bytes(bytes);
    std::printf("segment %llu  %.3f s  %s  hls/%s -> %s\n",
                static_cast<unsigned long long>(seg.index), seg.duration, sizes.c_str(),
                settings->name.c_str(), seg.package.str().c_str());
    std::fflush(stdout);
  };
  hooks.on_ended = [&](const Digest& package, uint64_t segments) {
    if (!quiet)
      std::fprintf(stderr, "ended: hls/%s after %llu segments\n", settings->name.c_str(),
                   static_cast<unsigned long long>(segments));
    std::printf("%s\n", package.str().c_str());
  };
  install_stop_handlers();
  if (auto ok = publish::run_live(*settings, **origin, options, hooks); !ok)
    return fail(kLiveCmd, ok.error().message);
  report_counts(quiet, **origin);
  return 0;
}

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

}  // namespace shoal::cli
