#include "publish/live.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>

#include "publish/ffmpeg.h"
#include "publish/ingest.h"
#include "publish/runner.h"
#include "publish/scratch_dir.h"

namespace shoal::publish {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
constexpr auto kPollInterval = std::chrono::milliseconds(200);

// ffmpeg's own sliding window would delete files we may not have uploaded yet, and
// its per-rendition playlists advance separately; publishing only segments that all
// renditions have keeps the variants in step for players switching between them.
class LivePublisher {
 public:
  LivePublisher(const Settings& s, Origin& origin, const LiveHooks& hooks, std::string dir,
                std::vector<Rung> rungs, double frame_rate, size_t window)
      : s_(s),
        origin_(origin),
        hooks_(hooks),
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
  void report_segment(uint64_t index, const Digest& package) const;

  const Settings& s_;
  Origin& origin_;
  const LiveHooks& hooks_;
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
  for (uint64_t k = first; k < until; ++k) report_segment(k, *digest);
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

void LivePublisher::report_segment(uint64_t index, const Digest& package) const {
  if (!hooks_.on_segment) return;
  std::vector<std::pair<std::string, uint64_t>> sizes;
  for (const auto& t : tracks_) {
    sizes.emplace_back(t.rendition.name, t.rendition.segments[index].blob.size);
  }
  double duration = tracks_.empty() ? 0 : tracks_[0].rendition.segments[index].duration;
  LiveSegment seg{index, duration, std::move(sizes), package};
  hooks_.on_segment(seg);
}

Result<void> LivePublisher::finish() {
  if (published_ == 0)
    return Error(Errc::io_error, "ffmpeg finished no segment; nothing was published");
  auto digest = publish(true);
  if (!digest) return digest.error();
  if (hooks_.on_ended) hooks_.on_ended(*digest, published_);
  return {};
}

// Stops ffmpeg the way Ctrl-C would (it finishes the segment in progress) and waits.
void stop(Process& ffmpeg) {
  ffmpeg.signal(SIGINT);
  ffmpeg.wait();
}

Result<void> run(const Settings& s, Origin& origin, const TranscodeJob& job, size_t window,
                 const LiveHooks& hooks) {
  auto ffmpeg = Process::spawn(ffmpeg_args(job), kFfmpegInstallHint);
  if (!ffmpeg) return ffmpeg.error();
  LivePublisher live(s, origin, hooks, job.out_dir, job.rungs, job.source.frame_rate, window);
  bool interrupted = false;
  auto next_poll = Clock::now();
  for (bool running = true; running;) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
    running = ffmpeg->pump(std::max(wait, std::chrono::milliseconds(0)));
    if (hooks.cancelled && hooks.cancelled() && !interrupted) {
      interrupted = true;
      ffmpeg->signal(SIGINT);
    }
    if (Clock::now() < next_poll && running) continue;
    next_poll = Clock::now() + kPollInterval;
    if (auto ok = live.poll(); !ok) {
      stop(*ffmpeg);
      if (live.published() > 0) (void)live.finish();
      return ok.error();
    }
  }
  if (auto ok = live.poll(); !ok) return ok.error();  // the last segment
  auto ended = interrupted
                   ? Result<void>()
                   : exit_result(ffmpeg->program(), ffmpeg->status(), ffmpeg->stderr_tail(4));
  if (live.published() == 0 && !ended) return ended.error();
  if (auto ok = live.finish(); !ok) return ok.error();
  return ended;
}

}  // namespace

Result<void> run_live(const Settings& s, Origin& origin, const LiveOptions& options,
                      const LiveHooks& hooks) {
  TranscodeJob job;
  if (options.input == "testsrc") {
    job.inputs = testsrc_inputs();
    job.source = testsrc_info();
    job.audio_map = "1:a:0";
  } else {
    auto info = probe_source(options.input);
    if (!info) return info.error();
    job.inputs = file_inputs(options.input, true);
    job.source = *info;
    job.audio_map = info->has_audio ? "0:a:0" : "";
  }
  job.rungs = fit_ladder(s.ladder, job.source.size());
  job.segment_seconds = s.segment_seconds;
  job.live = true;
  job.duration = options.duration;
  auto dir = ScratchDir::create("shoal-hls-live-");
  if (!dir) return dir.error();
  job.out_dir = dir->path();
  return run(s, origin, job, options.window, hooks);
}

}  // namespace shoal::publish
