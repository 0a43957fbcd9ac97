// ffmpeg for `shoal hls`: the command line that transcodes a source into the ladder
// (an argument vector, never a shell string) and the reader of its `-progress pipe:1`
// output. Pure; publish/runner.h runs the command.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "publish/ladder.h"
#include "publish/probe.h"

namespace shoal::publish {

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

// Reads `-progress pipe:1` output ("key=value" lines, blocks ending in progress=...),
// fed in whatever pieces the pipe delivers.
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

}  // namespace shoal::publish
