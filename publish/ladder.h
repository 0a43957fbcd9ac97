// The bitrate ladder of `shoal hls`: which renditions to make and at what bit rates,
// read from the --ladder flag and fitted to the source. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shoal::publish {

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

// What the ladder is fitted to: the source's picture size.
struct SourceSize {
  uint32_t width = 0;
  uint32_t height = 0;
};
// The rungs no taller than the source (the smallest always stays); a source shorter
// than every rung gets one rung at its own (even) height.
std::vector<Rung> fit_ladder(const std::vector<Rung>& rungs, SourceSize source);
// The width ffmpeg's scale=-2:H gives: the source aspect, rounded to an even number.
uint32_t scaled_width(SourceSize source, uint32_t height);

// "%g": "4", "2.5"; how a number of seconds appears in ladder strings and ffmpeg flags.
std::string number_text(double v);

}  // namespace shoal::publish
