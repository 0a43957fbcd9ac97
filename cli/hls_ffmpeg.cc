#include "cli/hls_ffmpeg.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace shoal::cli {
namespace {

struct DefaultRung {
  uint32_t height, video_kbps;
};
// Bit rates for H.264 at these sizes in the range Apple's authoring spec suggests.
constexpr DefaultRung kDefaults[] = {{2160, 14000}, {1440, 8000}, {1080, 5000}, {720, 2800},
                                     {540, 1800},   {480, 1400},  {360, 800},   {240, 400}};

uint32_t default_audio_kbps(uint32_t height) { return height >= 720 ? 128 : 64; }

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// "2800k" or "2800" (kbit/s).
std::optional<uint32_t> parse_kbps(std::string_view s) {
  if (s.ends_with('k') || s.ends_with('K')) s.remove_suffix(1);
  auto v = parse_u32(s);
  if (!v || *v == 0 || *v > 1'000'000) return std::nullopt;
  return v;
}

Result<Rung> parse_rung(std::string_view text) {
  std::string_view size = text.substr(0, text.find(':'));
  auto bad = [&](const std::string& why) {
    return Error(Errc::bad_request, "ladder rung \"" + std::string(text) + "\": " + why);
  };
  if (!size.ends_with('p')) return bad("expected a height such as 720p");
  auto height = parse_u32(size.substr(0, size.size() - 1));
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

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

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

}  // namespace

Result<std::vector<Rung>> parse_ladder(std::string_view spec) {
  std::vector<Rung> rungs;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string item = trimmed(spec.substr(0, comma));
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
  std::string s = "h264+aac/fmp4 seg=" + number(segment_seconds) + " ";
  for (size_t i = 0; i < rungs.size(); ++i) {
    if (i) s += ',';
    s += rungs[i].name + ":" + std::to_string(rungs[i].video_kbps) + "k/" +
         std::to_string(rungs[i].audio_kbps) + "k";
  }
  return s;
}

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

std::vector<Rung> fit_ladder(const std::vector<Rung>& rungs, const SourceInfo& source) {
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

uint32_t scaled_width(const SourceInfo& source, uint32_t height) {
  if (source.height == 0) return 0;
  double w = static_cast<double>(source.width) * height / source.height;
  return static_cast<uint32_t>(std::lround(w / 2)) * 2;
}

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
  if (job.duration) a.insert(a.end(), {"-t", number(*job.duration)});
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
  const std::string seg = number(job.segment_seconds);
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
    int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc() && end == value.data() + value.size() && v >= 0) out_time_us_ = v;
  } else if (key == "speed") {
    std::string s(value);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && std::isfinite(v) && v >= 0) speed_ = v;
  } else if (key == "progress") {
    ended_ = value == "end";
  }
}

namespace {

constexpr size_t kStderrLines = 20;

void close_pair(int fds[2]) {
  for (int i = 0; i < 2; ++i) {
    if (fds[i] >= 0) ::close(fds[i]);
  }
}

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* argv, pid_t parent, int out, int err, int report) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  // main() ignores SIGPIPE for itself; the child gets the default back.
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(argv[0], argv);
  int e = errno;
  (void)!::write(report, &e, sizeof e);
  ::_exit(127);
}

Result<std::string> run_capture(const std::vector<std::string>& argv, const std::string& what) {
  auto p = Subprocess::spawn(argv);
  if (!p) return p.error();
  int status = p->wait();
  if (!exited_ok(status)) {
    std::string tail = p->stderr_tail(3);
    return Error(Errc::bad_request,
                 argv[0] + " could not read " + what + " (" + describe_status(status) +
                     (tail.empty() ? "" : "): " + tail) + (tail.empty() ? ")" : ""));
  }
  return p->output();
}

std::vector<std::string> probe_args(const std::string& path) {
  return {"ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", "--", path};
}

}  // namespace

Result<Subprocess> Subprocess::spawn(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(report, O_CLOEXEC) != 0) {
    int e = errno;
    close_pair(out);
    close_pair(err);
    close_pair(report);
    return errno_error(e, "create pipes for " + argv[0]);
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    close_pair(out);
    close_pair(err);
    close_pair(report);
    return errno_error(e, "start " + argv[0]);
  }
  if (pid == 0) exec_child(cargv.data(), parent, out[1], err[1], report[1]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(report[1]);
  Subprocess child(pid, UniqueFd(out[0]), UniqueFd(err[0]));
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    child.wait();
    if (exec_errno == ENOENT) {
      return Error(Errc::not_found, argv[0] +
                                        " not found on PATH: install FFmpeg "
                                        "(e.g. apt-get install ffmpeg)");
    }
    return Error(Errc::io_error, "cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }
  return child;
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)),
      status_(o.status_),
      stdout_(std::move(o.stdout_)),
      err_partial_(std::move(o.err_partial_)),
      err_lines_(std::move(o.err_lines_)) {}

Subprocess::~Subprocess() {
  if (pid_ > 0 && status_ == -1) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
}

void Subprocess::signal(int sig) {
  if (pid_ > 0 && status_ == -1) ::kill(pid_, sig);
}

void Subprocess::reap(bool block) {
  if (pid_ <= 0 || status_ != -1) return;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = st;
}

void Subprocess::take_stderr(std::string_view bytes) {
  err_partial_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = err_partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = err_partial_.substr(start, nl - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    err_lines_.push_back(std::move(line));
    if (err_lines_.size() > kStderrLines) err_lines_.pop_front();
  }
  err_partial_.erase(0, start);
}

bool Subprocess::pump(std::chrono::milliseconds timeout, const Sink& on_stdout) {
  if (status_ != -1) return false;
  pollfd fds[2];
  UniqueFd* owners[2];
  nfds_t n = 0;
  for (UniqueFd* fd : {&out_, &err_}) {
    if (!fd->valid()) continue;
    fds[n] = {fd->get(), POLLIN, 0};
    owners[n++] = fd;
  }
  if (n == 0) {  // both pipes closed: only the exit status is left
    reap(true);
    return false;
  }
  int ready = ::poll(fds, n, static_cast<int>(timeout.count()));
  if (ready <= 0) return true;  // timeout, or EINTR: the caller checks its stop flag
  char buf[16384];
  for (nfds_t i = 0; i < n; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      owners[i]->reset();
      continue;
    }
    std::string_view data(buf, static_cast<size_t>(got));
    if (owners[i] == &err_) {
      take_stderr(data);
    } else if (on_stdout) {
      on_stdout(data);
    } else {
      stdout_.append(data);
    }
  }
  if (!out_.valid() && !err_.valid()) {
    reap(true);
    return false;
  }
  return true;
}

int Subprocess::wait(const Sink& on_stdout) {
  while (pump(std::chrono::milliseconds(1000), on_stdout)) {
  }
  return status_;
}

std::string Subprocess::stderr_tail(size_t lines) const {
  std::string out;
  size_t from = err_lines_.size() > lines ? err_lines_.size() - lines : 0;
  for (size_t i = from; i < err_lines_.size(); ++i)
    out += (out.empty() ? "" : " / ") + err_lines_[i];
  if (!err_partial_.empty()) out += (out.empty() ? "" : " / ") + err_partial_;
  return out;
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("killed by ") + ::strsignal(WTERMSIG(st));
  return "ended abnormally";
}

bool exited_ok(int st) { return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

Result<SourceInfo> probe_source(const std::string& path) {
  auto out = run_capture(probe_args(path), path);
  if (!out) return out.error();
  auto info = parse_source_probe(*out);
  if (!info) return Error(info.error().code, path + ": " + info.error().message);
  return info;
}

Result<StreamInfo> probe_segment(const std::optional<std::string>& init_path,
                                 const std::string& segment_path) {
  if (!init_path) {
    auto out = run_capture(probe_args(segment_path), segment_path);
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
  auto out = run_capture(probe_args(tmp.string()), segment_path);
  if (!out) return out.error();
  return parse_stream_probe(*out);
}

}  // namespace shoal::cli
