#include "publish/ladder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "core/text.h"

namespace shoal::publish {
namespace {

struct DefaultRung {
  uint32_t height, video_kbps;
};
// Bit rates for H.264 at these sizes in the range Apple's authoring spec suggests.
constexpr DefaultRung kDefaults[] = {{2160, 14000}, {1440, 8000}, {1080, 5000}, {720, 2800},
                                     {540, 1800},   {480, 1400},  {360, 800},   {240, 400}};

uint32_t default_audio_kbps(uint32_t height) { return height >= 720 ? 128 : 64; }

// "2800k" or "2800" (kbit/s).
std::optional<uint32_t> parse_kbps(std::string_view s) {
  if (s.ends_with('k') || s.ends_with('K')) s.remove_suffix(1);
  auto v = text::parse_uint<uint32_t>(s);
  if (!v || *v == 0 || *v > 1'000'000) return std::nullopt;
  return v;
}

Result<Rung> parse_rung(std::string_view text) {
  std::string_view size = text.substr(0, text.find(':'));
  auto bad = [&](const std::string& why) {
    return Error(Errc::bad_request, "ladder rung \"" + std::string(text) + "\": " + why);
  };
  if (!size.ends_with('p')) return bad("expected a height such as 720p");
  auto height = text::parse_uint<uint32_t>(size.substr(0, size.size() - 1));
  if (!height || *height < 64 || *height > 4320 || *height % 2 != 0)
    return bad("height must be even, 64 to 4320");
  Rung r{std::string(size), *height, 0, default_audio_kbps(*height)};
  for (const auto& d : kDefaults) {
    if (d.height == *height) r.video_kbps = d.video_kbps;
  }
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    std::string_view rates = text.substr(colon + 1);
    std::string_view audio;
    if (size_t slash = rates.find('/'); slash != std::string_view::npos) {
      audio = rates.substr(slash + 1);
      rates = rates.substr(0, slash);
    }
    auto video = parse_kbps(rates);
    if (!video) return bad("expected a video bit rate such as 1400k");
    r.video_kbps = *video;
    if (!audio.empty()) {
      auto a = parse_kbps(audio);
      if (!a) return bad("expected an audio bit rate such as 96k");
      r.audio_kbps = *a;
    }
  }
  if (r.video_kbps == 0)
    return bad("no default bit rate for this height: give one, e.g. " + r.name + ":2000k");
  return r;
}

}  // namespace

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Result<std::vector<Rung>> parse_ladder(std::string_view spec) {
  std::vector<Rung> rungs;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = text::trim_space(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    auto r = parse_rung(item);
    if (!r) return r.error();
    for (const auto& have : rungs) {
      if (have.height == r->height)
        return Error(Errc::bad_request, "ladder names " + r->name + " twice");
    }
    rungs.push_back(*r);
  }
  if (rungs.empty())
    return Error(Errc::bad_request, "empty ladder (expected e.g. 1080p,720p,360p)");
  std::sort(rungs.begin(), rungs.end(),
            [](const Rung& a, const Rung& b) { return a.height > b.height; });
  return rungs;
}

std::string ladder_string(const std::vector<Rung>& rungs, double segment_seconds) {
  std::string s = "h264+aac/fmp4 seg=" + number_text(segment_seconds) + " ";
  for (size_t i = 0; i < rungs.size(); ++i) {
    if (i) s += ',';
    s += rungs[i].name + ":" + std::to_string(rungs[i].video_kbps) + "k/" +
         std::to_string(rungs[i].audio_kbps) + "k";
  }
  return s;
}

std::vector<Rung> fit_ladder(const std::vector<Rung>& rungs, SourceSize source) {
  std::vector<Rung> kept;
  for (const auto& r : rungs) {
    if (r.height <= source.height) kept.push_back(r);
  }
  if (!kept.empty() || rungs.empty()) return kept;
  // Smaller than every rung: the smallest rung's rates at the source's own size.
  Rung r = rungs.back();
  r.height = std::max<uint32_t>(2, source.height & ~1u);
  r.name = std::to_string(r.height) + "p";
  return {r};
}

uint32_t scaled_width(SourceSize source, uint32_t height) {
  if (source.height == 0) return 0;
  double w = static_cast<double>(source.width) * height / source.height;
  return static_cast<uint32_t>(std::lround(w / 2)) * 2;
}

}  // namespace shoal::publish
