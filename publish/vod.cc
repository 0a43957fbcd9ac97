#include "publish/vod.h"

#include <fcntl.h>

#include <chrono>
#include <cmath>
#include <csignal>

#include "core/file_io.h"
#include "core/sha256.h"
#include "publish/ffmpeg.h"
#include "publish/ingest.h"
#include "publish/runner.h"
#include "publish/scratch_dir.h"

namespace shoal::publish {
namespace {

using Clock = std::chrono::steady_clock;

Result<Digest> hash_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "open " + path);
  auto d = Sha256::of_fd(fd.get());
  if (!d) return Error(d.error().code, "read " + path + ": " + d.error().message);
  return d;
}

// The package hls/NAME points at, when the same source and ladder made it. A package
// that cannot be read (deleted blob, older schema) is simply replaced.
Result<std::optional<Digest>> already_published(Origin& origin, const std::string& name,
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

// Runs ffmpeg to the end, reporting progress; the error carries the tail of its stderr.
Result<void> transcode(const TranscodeJob& job, const VodHooks& hooks) {
  auto ffmpeg = Process::spawn(ffmpeg_args(job), kFfmpegInstallHint);
  if (!ffmpeg) return ffmpeg.error();
  ProgressParser progress;
  auto on_stdout = [&](std::string_view bytes) {
    progress.feed(bytes);
    if (hooks.on_progress && progress.out_time_us())
      hooks.on_progress(static_cast<double>(*progress.out_time_us()) / 1e6, job.source.duration,
                        progress.speed());
  };
  bool interrupted = false;
  while (ffmpeg->pump(std::chrono::milliseconds(200), on_stdout)) {
    if (hooks.cancelled && hooks.cancelled() && !interrupted) {
      interrupted = true;
      ffmpeg->signal(SIGINT);
    }
  }
  if (hooks.on_transcode_end) hooks.on_transcode_end();
  if (interrupted) return Error(Errc::cancelled, "interrupted; nothing was published");
  return exit_result(ffmpeg->program(), ffmpeg->status(), ffmpeg->stderr_tail(4));
}

Result<Digest> tag(const Settings& s, Origin& origin, hls::Package package) {
  package.name = s.name;
  return origin.publish(package);
}

}  // namespace

Result<Digest> publish_packaged(const Settings& s, Origin& origin, const std::string& input,
                                const std::function<bool()>& cancelled) {
  IngestHints hints;
  hints.cancelled = cancelled;
  auto package = ingest(input, origin, hints);
  if (!package) return package.error();
  return tag(s, origin, std::move(*package));
}

Result<VodResult> publish_video(const Settings& s, Origin& origin, const std::string& input,
                                const VodHooks& hooks) {
  auto start = Clock::now();
  auto source_digest = hash_file(input);
  if (!source_digest) return source_digest.error();
  auto info = probe_source(input);
  if (!info) return info.error();
  // What will actually be made: "1080p,720p,360p" and "720p,360p" are the same
  // ladder for a 720p source, and the package says which rungs it has.
  const std::vector<Rung> rungs = fit_ladder(s.ladder, info->size());
  const std::string ladder = ladder_string(rungs, s.segment_seconds);
  auto done = already_published(origin, s.name, *source_digest, ladder);
  if (!done) return done.error();
  if (*done) return VodResult{**done, true};
  auto dir = ScratchDir::create("shoal-hls-");
  if (!dir) return dir.error();
  TranscodeJob job;
  job.inputs = file_inputs(input, false);
  job.audio_map = info->has_audio ? "0:a:0" : "";
  job.source = *info;
  job.rungs = rungs;
  job.segment_seconds = s.segment_seconds;
  job.progress = true;
  job.out_dir = dir->path();
  if (auto ok = transcode(job, hooks); !ok) return ok.error();
  if (hooks.on_transcoded) {
    hooks.on_transcoded(*info, job.rungs.size(),
                        std::chrono::duration<double>(Clock::now() - start).count());
  }
  IngestHints hints;
  for (const auto& r : job.rungs) hints.names.push_back(r.name);
  hints.frame_rate = std::round(info->frame_rate * 1000) / 1000;
  hints.cancelled = hooks.cancelled;
  auto package = ingest(dir->path(), origin, hints);
  if (!package) return package.error();
  package->source = *source_digest;
  package->ladder = ladder;
  auto digest = tag(s, origin, std::move(*package));
  if (!digest) return digest.error();
  return VodResult{*digest, false};
}

}  // namespace shoal::publish
