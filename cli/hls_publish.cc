// `shoal hls publish INPUT --name NAME`: a VOD package. A video file is transcoded
// once (one ffmpeg run for the whole ladder) into a temporary directory, which is then
// published like a directory a packager wrote: every segment becomes a blob, the
// manifest another, and hls/NAME points at the manifest.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/client_common.h"
#include "cli/hls_ingest.h"
#include "cli/progress.h"
#include "core/sha256.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kCmd = "hls publish";

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
  TranscodeBar(FILE* out, bool enabled, double total)
      : out_(out), enabled_(enabled), total_(total) {
    winsize ws{};
    if (enabled_ && ::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
      width_ = ws.ws_col;
  }
  void update(const ProgressParser& p) {
    if (!enabled_ || !p.out_time_us()) return;
    auto now = Clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double done = static_cast<double>(*p.out_time_us()) / 1e6;
    std::fprintf(out_, "\r%s", render_transcode_line(width_ - 1, done, total_, p.speed()).c_str());
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
  double total_;
  size_t width_ = 80;
  bool drawn_ = false;
  Clock::time_point last_;
};

// Interrupted runs end with 128 + the signal, as if it had killed us.
int failed(const Error& e) {
  int status = fail(kCmd, e.message);
  return e.is(Errc::cancelled) && stop_signal() ? 128 + stop_signal() : status;
}

void report_counts(const HlsSettings& s, const HlsOrigin& origin) {
  if (s.quiet) return;
  const auto& c = origin.counts();
  std::fprintf(stderr, "%llu blobs uploaded (%s), %llu already present\n",
               static_cast<unsigned long long>(c.uploaded), format_bytes(c.bytes_uploaded).c_str(),
               static_cast<unsigned long long>(c.present));
}

int finish(const HlsSettings& s, HlsOrigin& origin, hls::Package package) {
  package.name = s.name;
  auto digest = origin.publish(package);
  if (!digest) return fail(kCmd, digest.error().message);
  report_counts(s, origin);
  std::printf("%s\n", digest->str().c_str());
  return 0;
}

int publish_packaged(const HlsSettings& s, HlsOrigin& origin, const std::string& input) {
  IngestHints hints;
  hints.cancelled = stop_requested;
  auto package = ingest(input, origin, hints);
  if (!package) return failed(package.error());
  return finish(s, origin, std::move(*package));
}

Result<Digest> hash_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "open " + path);
  auto d = Sha256::of_fd(fd.get());
  if (!d) return Error(d.error().code, "read " + path + ": " + d.error().message);
  return d;
}

// The package hls/NAME points at, when the same source and ladder made it. A package
// that cannot be read (deleted blob, older schema) is simply replaced.
Result<std::optional<Digest>> already_published(HlsOrigin& origin, const std::string& name,
                                                const Digest& source, const std::string& ladder) {
  auto current = origin.current(name);
  if (!current) {
    const Error& e = current.error();
    if (e.is(Errc::unavailable) || e.is(Errc::timed_out) || e.is(Errc::unauthorized) ||
        e.is(Errc::forbidden))
      return e;
    return std::optional<Digest>{};
  }
  if (!*current) return std::optional<Digest>{};
  const auto& [digest, package] = **current;
  if (package.source == source && package.ladder == ladder) return std::optional<Digest>{digest};
  return std::optional<Digest>{};
}

// Runs ffmpeg to the end, drawing progress; the error carries the tail of its stderr.
Result<void> transcode(const TranscodeJob& job, bool quiet) {
  auto ffmpeg = Subprocess::spawn(ffmpeg_args(job));
  if (!ffmpeg) return ffmpeg.error();
  ProgressParser progress;
  TranscodeBar bar(stderr, Progress::enabled_for(stderr, quiet), job.source.duration);
  auto on_stdout = [&](std::string_view bytes) {
    progress.feed(bytes);
    bar.update(progress);
  };
  bool interrupted = false;
  while (ffmpeg->pump(std::chrono::milliseconds(200), on_stdout)) {
    if (stop_requested() && !interrupted) {
      interrupted = true;
      ffmpeg->signal(SIGINT);
    }
  }
  bar.clear();
  if (interrupted) return Error(Errc::cancelled, "interrupted; nothing was published");
  if (!exited_ok(ffmpeg->status())) {
    std::string tail = ffmpeg->stderr_tail(4);
    return Error(Errc::io_error,
                 "ffmpeg " + describe_status(ffmpeg->status()) + (tail.empty() ? "" : ": " + tail));
  }
  return {};
}

int publish_video(const HlsSettings& s, HlsOrigin& origin, const std::string& input) {
  auto start = Clock::now();
  auto source_digest = hash_file(input);
  if (!source_digest) return fail(kCmd, source_digest.error().message);
  auto info = probe_source(input);
  if (!info) return fail(kCmd, info.error().message);
  // What will actually be made: "1080p,720p,360p" and "720p,360p" are the same
  // ladder for a 720p source, and the package says which rungs it has.
  const std::vector<Rung> rungs = fit_ladder(s.ladder, *info);
  const std::string ladder = ladder_string(rungs, s.segment_seconds);
  auto done = already_published(origin, s.name, *source_digest, ladder);
  if (!done) return fail(kCmd, done.error().message);
  if (*done) {
    if (!s.quiet) {
      std::fprintf(stderr, "already published: hls/%s is %s (same source and ladder)\n",
                   s.name.c_str(), (*done)->str().c_str());
    }
    std::printf("%s\n", (*done)->str().c_str());
    return 0;
  }
  auto dir = TempDir::create("shoal-hls-");
  if (!dir) return fail(kCmd, dir.error().message);
  TranscodeJob job;
  job.inputs = file_inputs(input, false);
  job.audio_map = info->has_audio ? "0:a:0" : "";
  job.source = *info;
  job.rungs = rungs;
  job.segment_seconds = s.segment_seconds;
  job.progress = true;
  job.out_dir = dir->path();
  if (auto ok = transcode(job, s.quiet); !ok) return failed(ok.error());
  if (!s.quiet) {
    double took = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "transcoded %s of %ux%u into %zu rendition%s in %s\n",
                 seconds_text(info->duration).c_str(), info->width, info->height, job.rungs.size(),
                 job.rungs.size() == 1 ? "" : "s", seconds_text(took).c_str());
  }
  IngestHints hints;
  for (const auto& r : job.rungs) hints.names.push_back(r.name);
  hints.frame_rate = std::round(info->frame_rate * 1000) / 1000;
  hints.cancelled = stop_requested;
  auto package = ingest(dir->path(), origin, hints);
  if (!package) return failed(package.error());
  package->source = *source_digest;
  package->ladder = ladder;
  return finish(s, origin, std::move(*package));
}

}  // namespace

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
    fail(kCmd, "expected exactly one INPUT (usage: shoal hls publish INPUT --name NAME)");
    return 2;
  }
  auto settings = hls_settings(cfg);
  if (!settings) {
    fail(kCmd, settings.error().message);
    return 2;
  }
  auto origin = connect_origin(cfg);
  if (!origin) return fail(kCmd, origin.error().message);
  install_stop_handlers();
  const std::string& input = cfg.positional()[0];
  std::error_code ec;
  if (std::filesystem::is_directory(input, ec) || input.ends_with(".m3u8"))
    return publish_packaged(*settings, **origin, input);
  return publish_video(*settings, **origin, input);
}

}  // namespace shoal::cli
