#include "core/hls/m3u8.h"

#include <charconv>
#include <cmath>
#include <map>

#include "core/text.h"

namespace shoal::hls {
namespace {

constexpr size_t kMaxPlaylistBytes = 16u << 20;
constexpr size_t kMaxSegments = 1'000'000;

Error refuse(std::string why) { return Error(Errc::bad_request, std::move(why)); }

// Lines without their \r\n or \n; blank lines dropped.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string_view::npos) break;
    text = text.substr(nl + 1);
  }
  return out;
}

// An attribute list (RFC 8216 4.2): KEY=VALUE pairs, values quoted or bare.
Result<std::map<std::string, std::string>> attributes(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    size_t eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0) return refuse("malformed attribute list");
    std::string key(s.substr(0, eq));
    s = s.substr(eq + 1);
    std::string value;
    if (!s.empty() && s.front() == '"') {
      size_t close = s.find('"', 1);
      if (close == std::string_view::npos) return refuse("unterminated quoted attribute " + key);
      value = std::string(s.substr(1, close - 1));
      s = s.substr(close + 1);
    } else {
      size_t comma = s.find(',');
      value = std::string(s.substr(0, comma));
      s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma);
    }
    if (!s.empty()) {
      if (s.front() != ',') return refuse("malformed attribute list after " + key);
      s.remove_prefix(1);
    }
    out[key] = std::move(value);
  }
  return out;
}

template <class T>
Result<T> integer(std::string_view s, std::string_view what) {
  auto v = text::parse_uint<T>(s);
  if (!v) return refuse("malformed " + std::string(what) + " \"" + std::string(s) + "\"");
  return *v;
}

Result<double> decimal(std::string_view s, std::string_view what) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || !std::isfinite(v) || v < 0) {
    return refuse("malformed " + std::string(what) + " \"" + std::string(s) + "\"");
  }
  return v;
}

Result<void> check_start(const std::vector<std::string_view>& lines, std::string_view text) {
  if (text.size() > kMaxPlaylistBytes) return refuse("playlist over 16 MiB");
  if (lines.empty() || lines.front() != "#EXTM3U")
    return refuse("not a playlist: no #EXTM3U first line");
  return {};
}

bool tag(std::string_view line, std::string_view name, std::string_view& value) {
  if (!line.starts_with(name)) return false;
  std::string_view rest = line.substr(name.size());
  if (rest.empty()) {
    value = rest;
    return true;
  }
  if (rest.front() != ':') return false;
  value = rest.substr(1);
  return true;
}

Result<void> read_stream_inf(std::string_view value, VariantEntry& v) {
  auto attrs = attributes(value);
  if (!attrs) return attrs.error();
  auto& a = *attrs;
  if (!a.contains("BANDWIDTH")) return refuse("EXT-X-STREAM-INF without BANDWIDTH");
  auto bw = integer<uint64_t>(a["BANDWIDTH"], "BANDWIDTH");
  if (!bw) return bw.error();
  v.bandwidth = *bw;
  if (a.contains("AVERAGE-BANDWIDTH")) {
    auto avg = integer<uint64_t>(a["AVERAGE-BANDWIDTH"], "AVERAGE-BANDWIDTH");
    if (!avg) return avg.error();
    v.average_bandwidth = *avg;
  }
  if (a.contains("RESOLUTION")) {
    std::string_view res = a["RESOLUTION"];
    size_t x = res.find('x');
    if (x == std::string_view::npos)
      return refuse("malformed RESOLUTION \"" + std::string(res) + "\"");
    auto w = integer<uint32_t>(res.substr(0, x), "RESOLUTION");
    auto h = integer<uint32_t>(res.substr(x + 1), "RESOLUTION");
    if (!w) return w.error();
    if (!h) return h.error();
    v.width = *w;
    v.height = *h;
  }
  if (a.contains("FRAME-RATE")) {
    auto fr = decimal(a["FRAME-RATE"], "FRAME-RATE");
    if (!fr) return fr.error();
    v.frame_rate = *fr;
  }
  if (a.contains("CODECS")) v.codecs = a["CODECS"];
  return {};
}

}  // namespace

bool is_multivariant(std::string_view text) {
  return text.find("#EXT-X-STREAM-INF") != std::string_view::npos;
}

Result<MultivariantPlaylist> parse_multivariant(std::string_view text) {
  auto lines = lines_of(text);
  if (auto ok = check_start(lines, text); !ok) return ok.error();
  MultivariantPlaylist p;
  std::optional<VariantEntry> pending;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view value;
    if (tag(line, "#EXT-X-STREAM-INF", value)) {
      if (pending) return refuse("EXT-X-STREAM-INF without a URI line");
      VariantEntry v;
      if (auto ok = read_stream_inf(value, v); !ok) return ok.error();
      pending = std::move(v);
    } else if (tag(line, "#EXT-X-INDEPENDENT-SEGMENTS", value)) {
      p.independent_segments = true;
    } else if (tag(line, "#EXT-X-MEDIA", value)) {
      auto attrs = attributes(value);
      if (!attrs) return attrs.error();
      if (attrs->contains("URI"))
        return refuse("alternate renditions (EXT-X-MEDIA with a URI) are not supported");
    } else if (tag(line, "#EXT-X-SESSION-KEY", value)) {
      return refuse("encrypted streams (EXT-X-SESSION-KEY) are not supported");
    } else if (line.front() != '#') {
      if (!pending) continue;  // a URI with no STREAM-INF before it: not a variant
      pending->uri = std::string(line);
      p.variants.push_back(std::move(*pending));
      pending.reset();
    }
  }
  if (pending) return refuse("EXT-X-STREAM-INF without a URI line");
  if (p.variants.empty()) return refuse("no EXT-X-STREAM-INF variants");
  return p;
}

Result<MediaPlaylist> parse_media(std::string_view text) {
  auto lines = lines_of(text);
  if (auto ok = check_start(lines, text); !ok) return ok.error();
  MediaPlaylist p;
  // A negative duration marks "no EXTINF waiting for its URI" (std::optional trips
  // g++ 12's maybe-uninitialized warning here).
  double pending = -1;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view value;
    if (tag(line, "#EXTINF", value)) {
      if (pending >= 0) return refuse("EXTINF without a URI line");
      auto d = decimal(value.substr(0, value.find(',')), "EXTINF duration");
      if (!d) return d.error();
      pending = *d;
    } else if (tag(line, "#EXT-X-TARGETDURATION", value)) {
      auto td = integer<uint32_t>(value, "EXT-X-TARGETDURATION");
      if (!td) return td.error();
      p.target_duration = *td;
    } else if (tag(line, "#EXT-X-MEDIA-SEQUENCE", value)) {
      auto seq = integer<uint64_t>(value, "EXT-X-MEDIA-SEQUENCE");
      if (!seq) return seq.error();
      p.media_sequence = *seq;
    } else if (tag(line, "#EXT-X-PLAYLIST-TYPE", value)) {
      p.playlist_type = std::string(value);
    } else if (tag(line, "#EXT-X-ENDLIST", value)) {
      p.ended = true;
    } else if (tag(line, "#EXT-X-MAP", value)) {
      auto attrs = attributes(value);
      if (!attrs) return attrs.error();
      if (attrs->contains("BYTERANGE")) return refuse("byte-range init segments are not supported");
      if (!attrs->contains("URI")) return refuse("EXT-X-MAP without a URI");
      p.map_uri = (*attrs)["URI"];
    } else if (tag(line, "#EXT-X-BYTERANGE", value)) {
      return refuse("byte-range segments (EXT-X-BYTERANGE) are not supported");
    } else if (tag(line, "#EXT-X-DISCONTINUITY", value)) {
      return refuse("discontinuities (EXT-X-DISCONTINUITY) are not supported");
    } else if (tag(line, "#EXT-X-KEY", value)) {
      auto attrs = attributes(value);
      if (!attrs) return attrs.error();
      if ((*attrs)["METHOD"] != "NONE")
        return refuse("encrypted segments (EXT-X-KEY) are not supported");
    } else if (line.front() != '#') {
      if (pending < 0) return refuse("a URI without EXTINF: \"" + std::string(line) + "\"");
      if (p.segments.size() >= kMaxSegments) return refuse("more than 1000000 segments");
      p.segments.push_back({std::string(line), pending});
      pending = -1;
    }
  }
  if (pending >= 0) return refuse("EXTINF without a URI line");
  if (p.target_duration == 0) return refuse("no EXT-X-TARGETDURATION");
  return p;
}

}  // namespace shoal::hls
