// `shoal hls live INPUT --name NAME`: ffmpeg encodes the ladder at real time into a
// temporary directory, keeping every segment in its playlists (-hls_list_size 0); we
// poll those playlists and, each time every rendition has finished a new segment,
// upload it and move hls/NAME to a package holding the newest --window segments.
// ffmpeg's own sliding window would delete files we may not have uploaded yet, and
// its per-rendition playlists advance separately; publishing only segments that all
// renditions have keeps the variants in step for players switching between them.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/client_common.h"
#include "cli/hls_ingest.h"
#include "cli/progress.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
constexpr const char* kCmd = "hls live";
constexpr auto kPollInterval = std::chrono::milliseconds(200);

std::vector<ConfigKey> live_keys() {
  auto keys = hls_keys("2");
  keys.push_back(
      {"window", ConfigType::integer, "6", "segments in the live playlist (at least 3)"});
  keys.push_back(
      {"duration", ConfigType::string, "",
       "stop after this many seconds (default: at the end of INPUT, or when interrupted)"});
  return keys;
}

class LivePublisher {
 public:
  LivePublisher(const HlsSettings& s, HlsOrigin& origin, std::string dir, std::vector<Rung> rungs,
                double frame_rate, size_t window)
      : s_(s),
        origin_(origin),
        dir_(std::move(dir)),
        rungs_(std::move(rungs)),
        frame_rate_(frame_rate),
        window_(window),
        target_(static_cast<uint32_t>(std::ceil(s.segment_seconds))) {}

  // Uploads the segments every rendition has finished since the last call and, if
  // there were any, publishes a new package.
  Result<void> poll();
  // The last package again, with ended=true: players stop polling and play out.
  Result<void> finish();
  uint64_t published() const { return published_; }

 private:
  struct Track {
    VariantSource source;
    hls::Rendition rendition;  // metadata; segments holds every one published so far
    bool described = false;
  };
  Result<bool> load_tracks();
  Result<void> upload(Track& t, const hls::MediaPlaylist& media, uint64_t until);
  Result<Digest> publish(bool ended);
  void print_segment(uint64_t index, const Digest& package) const;

  const HlsSettings& s_;
  HlsOrigin& origin_;
  std::string dir_;
  std::vector<Rung> rungs_;
  double frame_rate_;
  size_t window_;
  uint32_t target_;
  std::vector<Track> tracks_;
  uint64_t published_ = 0;  // segments published per rendition
};

// The renditions, once ffmpeg has written its multivariant playlist.
Result<bool> LivePublisher::load_tracks() {
  if (!tracks_.empty()) return true;
  if (!fs::exists(fs::path(dir_) / "master.m3u8")) return false;
  auto variants = find_variants(dir_);
  if (!variants) return variants.error();
  if (variants->size() != rungs_.size()) {
    return Error(Errc::protocol_error, "ffmpeg wrote " + std::to_string(variants->size()) +
                                           " variants for a ladder of " +
                                           std::to_string(rungs_.size()));
  }
  for (size_t i = 0; i < rungs_.size(); ++i) {
    Track t{(*variants)[i], {}, false};
    t.source.name = rungs_[i].name;
    tracks_.push_back(std::move(t));
  }
  return true;
}

Result<void> LivePublisher::upload(Track& t, const hls::MediaPlaylist& media, uint64_t until) {
  std::optional<std::string> init;
  if (media.map_uri) {
    auto p = resolve_uri(t.source.playlist_path, *media.map_uri);
    if (!p) return p.error();
    init = *p;
  }
  for (uint64_t k = published_; k < until; ++k) {
    auto file = resolve_uri(t.source.playlist_path, media.segments[k - media.media_sequence].uri);
    if (!file) return file.error();
    if (!t.described) {
      auto r = describe_rendition(t.source, init, *file, frame_rate_);
      if (!r) return r.error();
      t.rendition = std::move(*r);
      if (init) {
        auto blob = origin_.put_file(*init);
        if (!blob) return blob.error();
        t.rendition.init = *blob;
      }
      t.described = true;
    }
    auto blob = origin_.put_file(*file);
    if (!blob) return blob.error();
    double duration = media.segments[k - media.media_sequence].duration;
    t.rendition.segments.push_back({duration, *blob});
    target_ = std::max(target_, static_cast<uint32_t>(std::lround(duration)));
    // ffmpeg never reads a finished segment again: keep the temporary disk bounded.
    std::error_code ignored;
    fs::remove(*file, ignored);
  }
  target_ = std::max(target_, media.target_duration);
  return {};
}

Result<void> LivePublisher::poll() {
  auto ready = load_tracks();
  if (!ready) return ready.error();
  if (!*ready) return {};
  std::vector<hls::MediaPlaylist> media;
  uint64_t until = UINT64_MAX;
  for (const auto& t : tracks_) {
    if (!fs::exists(t.source.playlist_path)) return {};
    auto m = read_media_playlist(t.source.playlist_path);
    if (!m) return m.error();
    if (m->media_sequence > published_)
      return Error(Errc::protocol_error,
                   t.source.playlist_path + " dropped segments not yet published");
    until = std::min<uint64_t>(until, m->media_sequence + m->segments.size());
    media.push_back(std::move(*m));
  }
  if (until <= published_) return {};
  for (size_t i = 0; i < tracks_.size(); ++i) {
    if (auto ok = upload(tracks_[i], media[i], until); !ok) return ok;
  }
  uint64_t first = published_;
  published_ = until;
  auto digest = publish(false);
  if (!digest) return digest.error();
  for (uint64_t k = first; k < until; ++k) print_segment(k, *digest);
  return {};
}

Result<Digest> LivePublisher::publish(bool ended) {
  hls::Package p;
  p.name = s_.name;
  p.kind = hls::Kind::live;
  p.format = hls::SegmentFormat::fmp4;
  p.ended = ended;
  p.target_duration = target_;
  p.ladder = ladder_string(rungs_, s_.segment_seconds);
  for (const auto& t : tracks_) {
    hls::Rendition r = t.rendition;
    // Peak and mean over everything published so far, not only the window: BANDWIDTH
    // should not swing as segments slide out.
    auto bw = hls::measure(r.segments);
    r.bandwidth = bw.peak;
    r.average_bandwidth = bw.average;
    size_t keep = std::min(window_, r.segments.size());
    r.media_sequence = r.segments.size() - keep;
    r.segments.erase(r.segments.begin(), r.segments.end() - static_cast<std::ptrdiff_t>(keep));
    p.renditions.push_back(std::move(r));
  }
  return origin_.publish(p);
}

void LivePublisher::print_segment(uint64_t index, const Digest& package) const {
  if (s_.quiet) return;
  std::string sizes;
  for (const auto& t : tracks_) {
    const auto& seg = t.rendition.segments[index];
    sizes += (sizes.empty() ? "" : ", ") + t.rendition.name + " " + format_bytes(seg.blob.size);
  }
  double duration = tracks_.empty() ? 0 : tracks_[0].rendition.segments[index].duration;
  std::printf("segment %llu  %.3f s  %s  hls/%s -> %s\n", static_cast<unsigned long long>(index),
              duration, sizes.c_str(), s_.name.c_str(), package.str().c_str());
  std::fflush(stdout);
}

Result<void> LivePublisher::finish() {
  if (published_ == 0)
    return Error(Errc::io_error, "ffmpeg finished no segment; nothing was published");
  auto digest = publish(true);
  if (!digest) return digest.error();
  if (!s_.quiet)
    std::fprintf(stderr, "ended: hls/%s after %llu segments\n", s_.name.c_str(),
                 static_cast<unsigned long long>(published_));
  std::printf("%s\n", digest->str().c_str());
  return {};
}

// Stops ffmpeg the way Ctrl-C would (it finishes the segment in progress) and waits.
void stop(Subprocess& ffmpeg) {
  ffmpeg.signal(SIGINT);
  ffmpeg.wait();
}

int run_live(const HlsSettings& s, HlsOrigin& origin, TranscodeJob job, size_t window) {
  auto ffmpeg = Subprocess::spawn(ffmpeg_args(job));
  if (!ffmpeg) return fail(kCmd, ffmpeg.error().message);
  LivePublisher live(s, origin, job.out_dir, job.rungs, job.source.frame_rate, window);
  bool interrupted = false;
  auto next_poll = Clock::now();
  for (bool running = true; running;) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
    running = ffmpeg->pump(std::max(wait, std::chrono::milliseconds(0)));
    if (stop_requested() && !interrupted) {
      interrupted = true;
      ffmpeg->signal(SIGINT);
    }
    if (Clock::now() < next_poll && running) continue;
    next_poll = Clock::now() + kPollInterval;
    if (auto ok = live.poll(); !ok) {
      stop(*ffmpeg);
      if (live.published() > 0) (void)live.finish();
      return fail(kCmd, ok.error().message);
    }
  }
  if (auto ok = live.poll(); !ok) return fail(kCmd, ok.error().message);  // the last segment
  bool ffmpeg_ok = interrupted || exited_ok(ffmpeg->status());
  std::string why = "ffmpeg " + describe_status(ffmpeg->status());
  if (std::string tail = ffmpeg->stderr_tail(4); !tail.empty()) why += ": " + tail;
  if (live.published() == 0 && !ffmpeg_ok) return fail(kCmd, why);
  if (auto ok = live.finish(); !ok) return fail(kCmd, ok.error().message);
  if (!ffmpeg_ok) return fail(kCmd, why);
  if (!s.quiet) {
    const auto& c = origin.counts();
    std::fprintf(stderr, "%llu blobs uploaded (%s), %llu already present\n",
                 static_cast<unsigned long long>(c.uploaded),
                 format_bytes(c.bytes_uploaded).c_str(),
                 static_cast<unsigned long long>(c.present));
  }
  return 0;
}

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

}  // namespace

int hls_live_main(const Args& args) {
  Config cfg(live_keys());
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
    fail(kCmd, "expected exactly one INPUT or testsrc (usage: shoal hls live INPUT --name NAME)");
    return 2;
  }
  auto settings = hls_settings(cfg);
  auto duration = parse_duration_flag(cfg);
  int64_t window = cfg.integer("window");
  if (!settings || !duration || window < 3) {
    fail(kCmd, !settings   ? settings.error().message
               : !duration ? duration.error().message
                           : "--window must be at least 3 segments (players keep 3 target "
                             "durations from the live edge)");
    return 2;
  }
  auto origin = connect_origin(cfg);
  if (!origin) return fail(kCmd, origin.error().message);
  const std::string& input = cfg.positional()[0];
  TranscodeJob job;
  if (input == "testsrc") {
    job.inputs = testsrc_inputs();
    job.source = testsrc_info();
    job.audio_map = "1:a:0";
  } else {
    auto info = probe_source(input);
    if (!info) return fail(kCmd, info.error().message);
    job.inputs = file_inputs(input, true);
    job.source = *info;
    job.audio_map = info->has_audio ? "0:a:0" : "";
  }
  job.rungs = fit_ladder(settings->ladder, job.source);
  job.segment_seconds = settings->segment_seconds;
  job.live = true;
  job.duration = *duration;
  auto dir = TempDir::create("shoal-hls-live-");
  if (!dir) return fail(kCmd, dir.error().message);
  job.out_dir = dir->path();
  install_stop_handlers();
  return run_live(*settings, **origin, std::move(job), static_cast<size_t>(window));
}

}  // namespace shoal::cli
