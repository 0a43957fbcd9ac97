#include "core/hls/package.h"

#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace shoal::hls {
namespace {

using nlohmann::json;

constexpr std::string_view kSchema = "shoal.hls.v1";

Error invalid(std::string why) { return Error(Errc::bad_request, "package: " + std::move(why)); }

std::string fixed3(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string json_quoted(std::string_view s) { return "\"" + text::json_escape(s) + "\""; }

std::string blob_json(const BlobRef& b) {
  return R"({"digest":")" + b.digest.str() + R"(","size":)" + std::to_string(b.size) + "}";
}

std::string rendition_json(const Rendition& r) {
  std::string out = R"({"name":)" + json_quoted(r.name) + R"(,"width":)" + std::to_string(r.width) +
                    R"(,"height":)" + std::to_string(r.height) + R"(,"frame_rate":)" +
                    fixed3(r.frame_rate) + R"(,"codecs":)" + json_quoted(r.codecs) +
                    R"(,"bandwidth":)" + std::to_string(r.bandwidth) +
                    R"(,"average_bandwidth":)" + std::to_string(r.average_bandwidth);
  if (r.init) out += R"(,"init":)" + blob_json(*r.init);
  out += R"(,"media_sequence":)" + std::to_string(r.media_sequence) + R"(,"segments":[)";
  for (size_t i = 0; i < r.segments.size(); ++i) {
    const Segment& s = r.segments[i];
    out += (i ? "," : "") + std::string(R"({"duration":)") + fixed3(s.duration) + R"(,"digest":")" +
           s.blob.digest.str() + R"(","size":)" + std::to_string(s.blob.size) + "}";
  }
  return out + "]}";
}

bool valid_package_name(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(n.front())) return false;
  for (char c : n) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// Typed field access that turns a wrong or missing field into a message.
template <class T>
Result<T> field(const json& obj, const char* key, std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end()) return invalid(std::string(where) + " has no \"" + key + "\"");
  if constexpr (std::is_same_v<T, std::string>) {
    if (it->is_string()) return it->get<std::string>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (it->is_number()) return it->get<double>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (it->is_boolean()) return it->get<bool>();
  } else {
    if (it->is_number_unsigned()) return static_cast<T>(it->get<uint64_t>());
    if (it->is_number_integer() && it->get<int64_t>() >= 0)
      return static_cast<T>(it->get<int64_t>());
  }
  return invalid(std::string(where) + ": \"" + key + "\" has the wrong type");
}

Result<BlobRef> read_blob(const json& obj, std::string_view where) {
  if (!obj.is_object()) return invalid(std::string(where) + " is not an object");
  auto text = field<std::string>(obj, "digest", where);
  if (!text) return text.error();
  auto d = Digest::parse(*text);
  if (!d) return invalid(std::string(where) + ": " + d.error().message);
  auto size = field<uint64_t>(obj, "size", where);
  if (!size) return size.error();
  return BlobRef{*d, *size};
}

Result<Segment> read_segment(const json& obj, std::string_view where) {
  auto blob = read_blob(obj, where);
  if (!blob) return blob.error();
  auto duration = field<double>(obj, "duration", where);
  if (!duration) return duration.error();
  if (!std::isfinite(*duration) || *duration <= 0)
    return invalid(std::string(where) + ": duration must be > 0");
  return Segment{*duration, *blob};
}

Result<Rendition> read_rendition(const json& obj, size_t index) {
  const std::string where = "rendition " + std::to_string(index);
  if (!obj.is_object()) return invalid(where + " is not an object");
  Rendition r;
  auto name = field<std::string>(obj, "name", where);
  if (!name) return name.error();
  if (!valid_rendition_name(*name)) return invalid(where + ": invalid name \"" + *name + "\"");
  r.name = *name;
  auto width = field<uint32_t>(obj, "width", where);
  auto height = field<uint32_t>(obj, "height", where);
  auto rate = field<double>(obj, "frame_rate", where);
  auto codecs = field<std::string>(obj, "codecs", where);
  auto bandwidth = field<uint64_t>(obj, "bandwidth", where);
  auto average = field<uint64_t>(obj, "average_bandwidth", where);
  auto sequence = field<uint64_t>(obj, "media_sequence", where);
  for (const Error* e :
       {width ? nullptr : &width.error(), height ? nullptr : &height.error(),
        rate ? nullptr : &rate.error(), codecs ? nullptr : &codecs.error(),
        bandwidth ? nullptr : &bandwidth.error(), average ? nullptr : &average.error(),
        sequence ? nullptr : &sequence.error()}) {
    if (e) return *e;
  }
  if (!std::isfinite(*rate) || *rate < 0) return invalid(where + ": frame_rate must be >= 0");
  r.width = *width;
  r.height = *height;
  r.frame_rate = *rate;
  r.codecs = *codecs;
  r.bandwidth = *bandwidth;
  r.average_bandwidth = *average;
  r.media_sequence = *sequence;
  if (auto init = obj.find("init"); init != obj.end()) {
    auto b = read_blob(*init, where + " init");
    if (!b) return b.error();
    r.init = *b;
  }
  auto segments = obj.find("segments");
  if (segments == obj.end() || !segments->is_array())
    return invalid(where + " has no segments array");
  for (size_t i = 0; i < segments->size(); ++i) {
    auto s = read_segment((*segments)[i], where + " segment " + std::to_string(i));
    if (!s) return s.error();
    r.segments.push_back(*s);
  }
  return r;
}

Result<void> check_consistency(const Package& p) {
  if (p.renditions.empty()) return invalid("no renditions");
  if (p.target_duration < 1) return invalid("target_duration must be at least 1");
  if (p.kind == Kind::vod && !p.ended) return invalid("a VOD package is always ended");
  std::set<std::string> names;
  for (const auto& r : p.renditions) {
    if (!names.insert(r.name).second) return invalid("rendition " + r.name + " appears twice");
    if (p.format == SegmentFormat::fmp4 && !r.init)
      return invalid("fMP4 rendition " + r.name + " has no init");
    if (p.format == SegmentFormat::ts && r.init)
      return invalid("TS rendition " + r.name + " has an init");
    for (const auto& s : r.segments) {
      // RFC 8216 4.3.3.1: every EXTINF, rounded, is at most the target duration.
      if (std::lround(s.duration) > static_cast<long>(p.target_duration)) {
        return invalid("a segment of " + fixed3(s.duration) + " s exceeds target_duration " +
                       std::to_string(p.target_duration));
      }
    }
  }
  return {};
}

}  // namespace

bool valid_rendition_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(name.front())) return false;
  for (char c : name) {
    if (!lower_alnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string to_json(const Package& p) {
  std::string out = R"({"schema":")" + std::string(kSchema) + R"(","name":)" + json_quoted(p.name) +
                    R"(,"kind":")" + (p.kind == Kind::vod ? "vod" : "live") +
                    R"(","segment_format":")" + (p.format == SegmentFormat::fmp4 ? "fmp4" : "ts") +
                    R"(","target_duration":)" + std::to_string(p.target_duration) +
                    R"(,"ended":)" + (p.ended ? "true" : "false");
  if (p.source) out += R"(,"source":")" + p.source->str() + "\"";
  if (!p.ladder.empty()) out += R"(,"ladder":)" + json_quoted(p.ladder);
  out += R"(,"renditions":[)";
  for (size_t i = 0; i < p.renditions.size(); ++i) {
    out += (i ? "," : "") + rendition_json(p.renditions[i]);
  }
  return out + "]}";
}

Result<Package> parse_package(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return invalid("not a JSON object");
  auto schema = field<std::string>(doc, "schema", "package");
  if (!schema) return schema.error();
  if (*schema != kSchema) return invalid("unknown schema \"" + *schema + "\"");
  Package p;
  auto name = field<std::string>(doc, "name", "package");
  auto kind = field<std::string>(doc, "kind", "package");
  auto format = field<std::string>(doc, "segment_format", "package");
  auto target = field<uint32_t>(doc, "target_duration", "package");
  auto ended = field<bool>(doc, "ended", "package");
  for (const Error* e : {name ? nullptr : &name.error(), kind ? nullptr : &kind.error(),
                         format ? nullptr : &format.error(), target ? nullptr : &target.error(),
                         ended ? nullptr : &ended.error()}) {
    if (e) return *e;
  }
  if (!valid_package_name(*name)) return invalid("invalid name \"" + *name + "\"");
  if (*kind != "vod" && *kind != "live") return invalid("kind must be vod or live");
  if (*format != "fmp4" && *format != "ts") return invalid("segment_format must be fmp4 or ts");
  p.name = *name;
  p.kind = *kind == "vod" ? Kind::vod : Kind::live;
  p.format = *format == "fmp4" ? SegmentFormat::fmp4 : SegmentFormat::ts;
  p.target_duration = *target;
  p.ended = *ended;
  if (doc.contains("source")) {
    auto text_source = field<std::string>(doc, "source", "package");
    if (!text_source) return text_source.error();
    auto d = Digest::parse(*text_source);
    if (!d) return invalid("source: " + d.error().message);
    p.source = *d;
  }
  if (doc.contains("ladder")) {
    auto ladder = field<std::string>(doc, "ladder", "package");
    if (!ladder) return ladder.error();
    p.ladder = *ladder;
  }
  auto renditions = doc.find("renditions");
  if (renditions == doc.end() || !renditions->is_array()) return invalid("no renditions array");
  for (size_t i = 0; i < renditions->size(); ++i) {
    auto r = read_rendition((*renditions)[i], i);
    if (!r) return r.error();
    p.renditions.push_back(std::move(*r));
  }
  if (auto ok = check_consistency(p); !ok) return ok.error();
  return p;
}

Bandwidth measure(const std::vector<Segment>& segments) {
  Bandwidth b;
  double bits = 0;
  double seconds = 0;
  for (const auto& s : segments) {
    if (s.duration <= 0) continue;
    double rate = std::ceil(static_cast<double>(s.blob.size) * 8 / s.duration);
    b.peak = std::max(b.peak, static_cast<uint64_t>(rate));
    bits += static_cast<double>(s.blob.size) * 8;
    seconds += s.duration;
  }
  if (seconds > 0) b.average = static_cast<uint64_t>(std::ceil(bits / seconds));
  return b;
}

std::string segment_uri(const Segment& s, SegmentFormat f) {
  return s.blob.digest.hex() + (f == SegmentFormat::fmp4 ? ".m4s" : ".ts");
}

std::string init_uri(const BlobRef& init) { return init.digest.hex() + ".mp4"; }

std::optional<Digest> digest_of_uri(std::string_view uri) {
  size_t dot = uri.find('.');
  if (dot != 64) return std::nullopt;
  std::string_view ext = uri.substr(dot);
  if (ext != ".m4s" && ext != ".ts" && ext != ".mp4") return std::nullopt;
  std::string_view hex = uri.substr(0, 64);
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  auto d = Digest::parse("sha256:" + std::string(hex));
  if (!d) return std::nullopt;
  return *d;
}

}  // namespace shoal::hls
