#include "publish/ffmpeg.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/text.h"

namespace shoal::publish {

std::vector<std::string> file_inputs(const std::string& path, bool realtime) {
  std::vector<std::string> args;
  if (realtime) args.push_back("-re");
  args.insert(args.end(), {"-i", path});
  return args;
}

std::vector<std::string> testsrc_inputs() {
  return {"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
          "-re", "-f", "lavfi", "-i", "sine=frequency=1000"};
}

SourceInfo testsrc_info() { return SourceInfo{1280, 720, 30, 0, true}; }

std::vector<std::string> ffmpeg_args(const TranscodeJob& job) {
  std::vector<std::string> a = {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"};
  a.insert(a.end(), job.inputs.begin(), job.inputs.end());
  if (job.duration) a.insert(a.end(), {"-t", number_text(*job.duration)});
  // One decode, split and scaled per rung: every rendition comes from the same frames.
  const size_t n = job.rungs.size();
  std::string graph = "[" + job.video_map + "]";
  if (n > 1) {
    graph += "split=" + std::to_string(n);
    for (size_t i = 0; i < n; ++i) graph += "[s" + std::to_string(i) + "]";
    graph += ";";
  }
  for (size_t i = 0; i < n; ++i) {
    if (n > 1) graph += "[s" + std::to_string(i) + "]";
    graph += "scale=-2:" + std::to_string(job.rungs[i].height) + "[v" + std::to_string(i) + "]";
    if (i + 1 < n) graph += ";";
  }
  a.insert(a.end(), {"-filter_complex", graph});
  for (size_t i = 0; i < n; ++i) {
    a.insert(a.end(), {"-map", "[v" + std::to_string(i) + "]"});
    if (!job.audio_map.empty()) a.insert(a.end(), {"-map", job.audio_map});
  }
  // Keyframes at the same instants in every rendition (fixed GOP, no scene cuts, forced
  // at segment boundaries): segments line up, so players switch cleanly between them.
  const std::string seg = number_text(job.segment_seconds);
  const std::string gop =
      std::to_string(std::max<long>(1, std::lround(job.source.frame_rate * job.segment_seconds)));
  a.insert(a.end(), {"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", gop,
                     "-keyint_min", gop, "-sc_threshold", "0", "-force_key_frames",
                     "expr:gte(t,n_forced*" + seg + ")"});
  for (size_t i = 0; i < n; ++i) {
    const Rung& r = job.rungs[i];
    std::string v = ":v:" + std::to_string(i);
    a.insert(a.end(), {"-profile" + v, r.height <= 720 ? "main" : "high", "-b" + v,
                       std::to_string(r.video_kbps) + "k", "-maxrate" + v,
                       std::to_string(r.video_kbps * 107 / 100) + "k", "-bufsize" + v,
                       std::to_string(r.video_kbps * 3 / 2) + "k"});
  }
  if (!job.audio_map.empty()) {
    a.insert(a.end(), {"-c:a", "aac", "-ac", "2"});
    for (size_t i = 0; i < n; ++i)
      a.insert(a.end(),
               {"-b:a:" + std::to_string(i), std::to_string(job.rungs[i].audio_kbps) + "k"});
  }
  // fMP4 (CMAF) rather than MPEG-TS: one init segment plus bare fragments instead of
  // tables and PES headers repeated in every 188-byte packet (several per cent less
  // to store and ship); it is what hls.js, Safari/AVPlayer and ExoPlayer all play; and
  // the same segments could be listed by a DASH manifest without a second copy.
  a.insert(a.end(), {"-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", seg});
  if (job.live) {
    // We keep every segment (list size 0) and do the sliding window ourselves; temp_file
    // makes segments and playlists appear complete, by rename.
    a.insert(a.end(), {"-hls_list_size", "0", "-hls_flags", "+independent_segments+temp_file"});
  } else {
    a.insert(a.end(), {"-hls_playlist_type", "vod", "-hls_flags", "+independent_segments"});
  }
  std::string map;
  for (size_t i = 0; i < n; ++i) {
    if (i) map += ' ';
    map += "v:" + std::to_string(i);
    if (!job.audio_map.empty()) map += ",a:" + std::to_string(i);
  }
  // ffmpeg 5.1 writes the init segment into each v<N>/ directory, as init_<N>.mp4 when
  // there are several variants (init.mp4 for one); the playlists' EXT-X-MAP name it.
  a.insert(a.end(),
           {"-master_pl_name", "master.m3u8", "-var_stream_map", map, "-hls_segment_filename",
            job.out_dir + "/v%v/seg%05d.m4s", "-hls_fmp4_init_filename", "init.mp4"});
  if (job.progress) a.insert(a.end(), {"-progress", "pipe:1"});
  a.insert(a.end(), {"-nostats", job.out_dir + "/v%v/index.m3u8"});
  return a;
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !arg.empty() && arg.find_first_not_of(
                                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_./:=+,%@") == std::string::npos;
    if (plain) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

void ProgressParser::feed(std::string_view bytes) {
  partial_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
    line(std::string_view(partial_).substr(start, nl - start));
  partial_.erase(0, start);
}

void ProgressParser::line(std::string_view l) {
  if (l.ends_with('\r')) l.remove_suffix(1);
  size_t eq = l.find('=');
  if (eq == std::string_view::npos) return;
  std::string_view key = l.substr(0, eq), value = l.substr(eq + 1);
  if (key == "out_time_us") {
    auto v = text::parse_int<int64_t>(value);
    if (v && *v >= 0) out_time_us_ = *v;
  } else if (key == "speed") {
    std::string s(value);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && std::isfinite(v) && v >= 0) speed_ = v;
  } else if (key == "progress") {
    ended_ = value == "end";
  }
}

}  // namespace shoal::publish
