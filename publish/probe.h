// ffprobe for `shoal hls`: what a source file holds (picture size, frame rate,
// duration, audio) and what a packaged segment holds (for playlists that leave it
// out). The parsers of `ffprobe -of json` output are pure; probe_* run ffprobe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "publish/ladder.h"

namespace shoal::publish {

struct SourceInfo {
  uint32_t width = 0;
  uint32_t height = 0;
  double frame_rate = 0;
  double duration = 0;  // seconds; 0 when unknown (live)
  bool has_audio = false;
  SourceSize size() const { return {width, height}; }
};

// `ffprobe -show_streams -show_format -of json`: the first video stream's size and
// rate (cover pictures skipped), the duration, whether an audio stream exists.
Result<SourceInfo> parse_source_probe(std::string_view json);

// What one rendition's first segment tells about it.
struct StreamInfo {
  uint32_t width = 0;
  uint32_t height = 0;
  double frame_rate = 0;
  std::string codecs;  // RFC 6381, "" unless every stream's codec is known
};
Result<StreamInfo> parse_stream_probe(std::string_view json);

// Said when ffmpeg or ffprobe is missing.
inline constexpr const char* kFfmpegInstallHint = "install FFmpeg (e.g. apt-get install ffmpeg)";

// Runs ffprobe on a file (source mode: format and all streams).
Result<SourceInfo> probe_source(const std::string& path);
// ffprobe on an fMP4 init segment followed by a media segment (or a TS segment alone).
Result<StreamInfo> probe_segment(const std::optional<std::string>& init_path,
                                 const std::string& segment_path);

}  // namespace shoal::publish
