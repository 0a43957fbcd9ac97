// ffmpeg and ffprobe for `shoal hls`: the bitrate ladder, the command lines (built as
// argument vectors, never through a shell), running them with fork/exec while their
// output is drained, and reading `-progress pipe:1` and `ffprobe -of json` output.
// Everything but Subprocess and the probe_* wrappers is pure and unit-testable.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"

namespace shoal::cli {

// One rendition of the ladder: output height and bit rates (kbit/s).
struct Rung {
  std::string name;  // "720p": also the rendition's name in the package
  uint32_t height = 0;
  uint32_t video_kbps = 0;
  uint32_t audio_kbps = 0;
  bool operator==(const Rung&) const = default;
};

// "1080p,720p,360p" with the built-in bit rates (1080p 5000k, 720p 2800k, 360p 800k,
// audio 128k from 720p up, 64k below); "480p:1400k" or "480p:1400k/96k" sets them.
// Sorted tallest first; duplicates and unknown heights without a rate are refused.
Result<std::vector<Rung>> parse_ladder(std::string_view spec);
// The canonical text of a ladder and segment length, stored in Package::ladder so a
// re-publish can tell whether the same settings made the current package:
// "h264+aac/fmp4 seg=4 1080p:5000k/128k,720p:2800k/128k,360p:800k/64k".
std::string ladder_string(const std::vector<Rung>& rungs, double segment_seconds);

struct SourceInfo {
  uint32_t width = 0;
  uint32_t height = 0;
  double frame_rate = 0;
  double duration = 0;  // seconds; 0 when unknown (live)
  bool has_audio = false;
};

// `ffprobe -show_streams -show_format -of json`: the first video stream's size and
// rate, the duration, whether an audio stream exists.
Result<SourceInfo> parse_source_probe(std::string_view json);
// The rungs no taller than the source (the smallest always stays); a source shorter
// than every rung gets one rung at its own (even) height.
std::vector<Rung> fit_ladder(const std::vector<Rung>& rungs, const SourceInfo& source);
// The width ffmpeg's scale=-2:H gives: the source aspect, rounded to an even number.
uint32_t scaled_width(const SourceInfo& source, uint32_t height);

// What one rendition's first segment tells about it, for playlists that leave it out.
struct StreamInfo {
  uint32_t width = 0;
  uint32_t height = 0;
  double frame_rate = 0;
  std::string codecs;  // RFC 6381, "" unless every stream's codec is known
};
Result<StreamInfo> parse_stream_probe(std::string_view json);

struct TranscodeJob {
  std::vector<std::string> inputs;  // the ffmpeg input arguments ("-re", "-i", path, ...)
  std::string video_map = "0:v:0";
  std::string audio_map;  // "" for no audio
  SourceInfo source;
  std::vector<Rung> rungs;
  double segment_seconds = 4;
  bool live = false;
  std::optional<double> duration;  // -t: stop after this many seconds of output
  bool progress = false;           // -progress pipe:1
  std::string out_dir;             // playlists and segments go here
};

// The whole argument vector, "ffmpeg" first.
std::vector<std::string> ffmpeg_args(const TranscodeJob& job);
// Input arguments for a file, or for the "testsrc" generator (720p30 bars and a tone).
std::vector<std::string> file_inputs(const std::string& path, bool realtime);
std::vector<std::string> testsrc_inputs();
SourceInfo testsrc_info();
// "ffmpeg -i 'my file.mp4' ...": for messages and logs, quoted where needed.
std::string shell_quote(const std::vector<std::string>& argv);

// Reads `-progress pipe:1` output ("key=value" lines, blocks ending in progress=...).
class ProgressParser {
 public:
  void feed(std::string_view bytes);
  std::optional<int64_t> out_time_us() const { return out_time_us_; }
  std::optional<double> speed() const { return speed_; }
  bool ended() const { return ended_; }

 private:
  void line(std::string_view l);
  std::string partial_;
  std::optional<int64_t> out_time_us_;
  std::optional<double> speed_;
  bool ended_ = false;
};

// A child process (execvp, no shell) with stdout and stderr on pipes. The child is
// in its own process group, so a terminal's Ctrl-C reaches only us and we decide how
// ffmpeg stops, and it dies with us (PR_SET_PDEATHSIG).
class Subprocess {
 public:
  using Sink = std::function<void(std::string_view)>;

  // Errc::not_found with "ffmpeg not found: install it (apt-get install ffmpeg)"
  // when the program is not on PATH.
  static Result<Subprocess> spawn(const std::vector<std::string>& argv);
  Subprocess(Subprocess&&) noexcept;
  Subprocess& operator=(Subprocess&&) = delete;
  ~Subprocess();  // kills and reaps a child still running

  // Waits up to `timeout` for output, passes stdout to `on_stdout`, keeps the tail of
  // stderr; false once the child has exited (then status() is valid).
  bool pump(std::chrono::milliseconds timeout, const Sink& on_stdout = {});
  void signal(int sig);
  // Pumps until the child exits; its wait status.
  int wait(const Sink& on_stdout = {});
  int status() const { return status_; }
  const std::string& output() const { return stdout_; }  // when no sink took it
  // The last `lines` lines of stderr joined by " / ", for a one-line error.
  std::string stderr_tail(size_t lines) const;

 private:
  Subprocess(pid_t pid, UniqueFd out, UniqueFd err)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}
  void reap(bool block);
  void take_stderr(std::string_view bytes);

  pid_t pid_ = -1;
  UniqueFd out_, err_;
  int status_ = -1;
  std::string stdout_, err_partial_;
  std::deque<std::string> err_lines_;
};

// "exited with status 1", "killed by signal 9".
std::string describe_status(int wait_status);
bool exited_ok(int wait_status);

// Runs ffprobe on a file (source mode: format and all streams).
Result<SourceInfo> probe_source(const std::string& path);
// ffprobe on an fMP4 init segment followed by a media segment (or a TS segment alone).
Result<StreamInfo> probe_segment(const std::optional<std::string>& init_path,
                                 const std::string& segment_path);

}  // namespace shoal::cli
