#include "edge/hls_playlist.h"

#include <algorithm>
#include <cstdio>

namespace shoal::hls {
namespace {

// EXT-X-MAP in a media playlist needs version 6; integer-free EXTINF needs 3.
int version(const Package& p) { return p.format == SegmentFormat::fmp4 ? 6 : 3; }

std::string fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

bool kept(const Rendition& r, const VariantFilter& f) {
  if (f.max_height && r.height > *f.max_height) return false;
  if (f.max_bandwidth && r.bandwidth > *f.max_bandwidth) return false;
  return true;
}

void stream_inf(std::string& out, const Rendition& r) {
  out += "#EXT-X-STREAM-INF:BANDWIDTH=" + std::to_string(r.bandwidth);
  if (r.average_bandwidth > 0) out += ",AVERAGE-BANDWIDTH=" + std::to_string(r.average_bandwidth);
  if (!r.codecs.empty()) out += ",CODECS=\"" + r.codecs + "\"";
  if (r.width > 0 && r.height > 0) {
    out += ",RESOLUTION=" + std::to_string(r.width) + "x" + std::to_string(r.height);
  }
  if (r.frame_rate > 0) out += ",FRAME-RATE=" + fixed3(r.frame_rate);
  out += "\n" + r.name + "/index.m3u8\n";
}

}  // namespace

const Rendition* find_rendition(const Package& p, std::string_view name) {
  for (const auto& r : p.renditions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string master_playlist(const Package& p, const VariantFilter& filter) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:" + std::to_string(version(p)) +
                    "\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  bool any = false;
  for (const auto& r : p.renditions) {
    if (!kept(r, filter)) continue;
    stream_inf(out, r);
    any = true;
  }
  if (!any && !p.renditions.empty()) {
    auto lowest = std::min_element(p.renditions.begin(), p.renditions.end(),
                                   [](const Rendition& a, const Rendition& b) {
                                     return a.bandwidth < b.bandwidth;
                                   });
    stream_inf(out, *lowest);
  }
  return out;
}

std::string media_playlist(const Package& p, const Rendition& r) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:" + std::to_string(version(p)) +
                    "\n#EXT-X-TARGETDURATION:" + std::to_string(p.target_duration) +
                    "\n#EXT-X-MEDIA-SEQUENCE:" + std::to_string(r.media_sequence) + "\n";
  if (p.kind == Kind::vod) out += "#EXT-X-PLAYLIST-TYPE:VOD\n";
  if (r.init) out += "#EXT-X-MAP:URI=\"" + init_uri(*r.init) + "\"\n";
  for (const auto& s : r.segments) {
    out += "#EXTINF:" + fixed3(s.duration) + ",\n" + segment_uri(s, p.format) + "\n";
  }
  if (p.kind == Kind::vod || p.ended) out += "#EXT-X-ENDLIST\n";
  return out;
}

}  // namespace shoal::hls
