#include "publish/probe.h"

#include <fcntl.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/file_io.h"
#include "publish/runner.h"

namespace shoal::publish {
namespace {

double parse_rational(const nlohmann::json& v) {
  if (!v.is_string()) return 0;
  std::string s = v.get<std::string>();
  size_t slash = s.find('/');
  double num = std::strtod(s.c_str(), nullptr);
  double den = slash == std::string::npos ? 1 : std::strtod(s.c_str() + slash + 1, nullptr);
  return den > 0 && std::isfinite(num / den) ? num / den : 0;
}

double parse_seconds(const nlohmann::json& v) {
  if (!v.is_string()) return 0;
  double d = std::strtod(v.get<std::string>().c_str(), nullptr);
  return std::isfinite(d) && d > 0 ? d : 0;
}

// avg_frame_rate is what the stream delivers; r_frame_rate can be a timebase-like
// number (90000) for variable-rate sources.
double frame_rate_of(const nlohmann::json& stream) {
  double avg = parse_rational(stream.value("avg_frame_rate", nlohmann::json()));
  if (avg > 0 && avg <= 240) return avg;
  double r = parse_rational(stream.value("r_frame_rate", nlohmann::json()));
  return r > 0 && r <= 240 ? r : 0;
}

bool is_picture(const nlohmann::json& stream) {
  auto disp = stream.find("disposition");
  return disp != stream.end() && disp->is_object() && disp->value("attached_pic", 0) == 1;
}

Result<nlohmann::json> parse_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error(Errc::protocol_error, "ffprobe printed something other than JSON");
  return j;
}

char hex_digit(unsigned v) { return "0123456789abcdef"[v & 15]; }
std::string hex2(unsigned v) { return {hex_digit(v >> 4), hex_digit(v)}; }

// RFC 6381 names from what ffprobe reports; "" when unsure (a wrong CODECS makes
// players skip the variant, a missing one only costs them a probe).
std::string rfc6381(const nlohmann::json& s) {
  std::string codec = s.value("codec_name", "");
  std::string profile = s.value("profile", "");
  if (codec == "h264") {
    int level = s.value("level", 0);
    if (level <= 0) return "";
    if (profile == "Constrained Baseline") return "avc1.42e0" + hex2(level);
    if (profile == "Baseline") return "avc1.4200" + hex2(level);
    if (profile == "Main") return "avc1.4d40" + hex2(level);
    if (profile == "High") return "avc1.6400" + hex2(level);
    return "";
  }
  if (codec == "aac") {
    if (profile == "LC") return "mp4a.40.2";
    if (profile == "HE-AAC") return "mp4a.40.5";
    if (profile == "HE-AACv2") return "mp4a.40.29";
    return "";
  }
  if (codec == "mp3") return "mp4a.40.34";
  if (codec == "ac3") return "ac-3";
  if (codec == "eac3") return "ec-3";
  return "";
}

std::vector<std::string> probe_args(const std::string& path) {
  return {"ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", "--", path};
}

// ffprobe's stdout; an error names `what` it could not read and how ffprobe ended.
Result<std::string> run_probe(const std::string& path, const std::string& what) {
  auto p = Process::spawn(probe_args(path), kFfmpegInstallHint);
  if (!p) return p.error();
  int status = p->wait();
  if (!exited_ok(status)) {
    std::string tail = p->stderr_tail(3);
    return Error(Errc::bad_request, p->program() + " could not read " + what + " (" +
                                        describe_status(status) +
                                        (tail.empty() ? ")" : "): " + tail));
  }
  return p->output();
}

}  // namespace

Result<SourceInfo> parse_source_probe(std::string_view text) {
  auto j = parse_json(text);
  if (!j) return j.error();
  SourceInfo info;
  bool video = false;
  auto streams = j->find("streams");
  if (streams != j->end() && streams->is_array()) {
    for (const auto& s : *streams) {
      if (!s.is_object()) continue;
      std::string type = s.value("codec_type", "");
      if (type == "audio") info.has_audio = true;
      if (type != "video" || video || is_picture(s)) continue;
      video = true;
      info.width = s.value("width", 0u);
      info.height = s.value("height", 0u);
      info.frame_rate = frame_rate_of(s);
      info.duration = parse_seconds(s.value("duration", nlohmann::json()));
    }
  }
  if (!video || info.width == 0 || info.height == 0)
    return Error(Errc::bad_request, "no video stream");
  if (auto format = j->find("format"); format != j->end() && format->is_object()) {
    double d = parse_seconds(format->value("duration", nlohmann::json()));
    if (d > 0) info.duration = d;
  }
  if (info.frame_rate <= 0) return Error(Errc::bad_request, "the video stream has no frame rate");
  return info;
}

Result<StreamInfo> parse_stream_probe(std::string_view text) {
  auto j = parse_json(text);
  if (!j) return j.error();
  StreamInfo info;
  std::vector<std::string> codecs;
  bool all_known = true;
  auto streams = j->find("streams");
  if (streams == j->end() || !streams->is_array() || streams->empty())
    return Error(Errc::bad_request, "no streams");
  for (const auto& s : *streams) {
    if (!s.is_object()) continue;
    std::string type = s.value("codec_type", "");
    if (type != "video" && type != "audio") continue;
    if (type == "video" && info.width == 0) {
      info.width = s.value("width", 0u);
      info.height = s.value("height", 0u);
      info.frame_rate = frame_rate_of(s);
    }
    std::string c = rfc6381(s);
    all_known = all_known && !c.empty();
    codecs.push_back(c);
  }
  if (all_known) {
    for (size_t i = 0; i < codecs.size(); ++i) info.codecs += (i ? "," : "") + codecs[i];
  }
  return info;
}

Result<SourceInfo> probe_source(const std::string& path) {
  auto out = run_probe(path, path);
  if (!out) return out.error();
  auto info = parse_source_probe(*out);
  if (!info) return Error(info.error().code, path + ": " + info.error().message);
  return info;
}

Result<StreamInfo> probe_segment(const std::optional<std::string>& init_path,
                                 const std::string& segment_path) {
  if (!init_path) {
    auto out = run_probe(segment_path, segment_path);
    if (!out) return out.error();
    return parse_stream_probe(*out);
  }
  // An fMP4 fragment means nothing without its init segment: probe both, joined.
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec) / ("shoal-probe-" + random_hex(8) + ".mp4");
  if (ec) return Error(Errc::io_error, "no temporary directory: " + ec.message());
  UniqueFd dst(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!dst.valid()) return errno_error(errno, "create " + tmp.string());
  struct Remove {
    fs::path p;
    ~Remove() {
      std::error_code ignored;
      fs::remove(p, ignored);
    }
  } remove{tmp};
  for (const std::string& part : {*init_path, segment_path}) {
    UniqueFd src(::open(part.c_str(), O_RDONLY | O_CLOEXEC));
    if (!src.valid()) return errno_error(errno, "open " + part);
    char buf[65536];
    for (uint64_t at = 0;;) {
      auto n = pread_some(src.get(), buf, sizeof buf, at);
      if (!n) return Error(n.error().code, "read " + part + ": " + n.error().message);
      if (*n == 0) break;
      if (auto ok = write_all(dst.get(), buf, *n); !ok) return ok.error();
      at += *n;
    }
  }
  auto out = run_probe(tmp.string(), segment_path);
  if (!out) return out.error();
  return parse_stream_probe(*out);
}

}  // namespace shoal::publish
