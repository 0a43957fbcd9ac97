#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>

namespace shoal::cli {
namespace {

using namespace std::chrono_literals;
constexpr auto kRedrawInterval = 100ms;  // ~10 redraws a second: readable, cheap
constexpr double kSmoothing = 0.3;       // weight of the newest rate sample

std::string fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string bar(size_t width, uint64_t done, uint64_t total) {
  size_t inner = width - 2;
  if (done >= total) return "[" + std::string(inner, '=') + "]";
  auto filled = static_cast<size_t>(static_cast<double>(inner) * static_cast<double>(done) /
                                    static_cast<double>(total));
  if (filled >= inner) filled = inner - 1;
  return "[" + std::string(filled, '=') + ">" + std::string(inner - filled - 1, ' ') + "]";
}

size_t terminal_width(FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return fixed1(v) + " " + kUnits[unit];
}

std::string format_rate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) bytes_per_second = 0;
  return format_bytes(static_cast<uint64_t>(bytes_per_second)) + "/s";
}

std::string format_eta(double seconds) {
  // Past 100 hours an estimate is noise; "unknown" is more honest.
  if (!std::isfinite(seconds) || seconds < 0 || seconds >= 360000) return "-:--";
  auto s = static_cast<uint64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%u:%02u:%02u", static_cast<unsigned>(s / 3600),
                  static_cast<unsigned>(s / 60 % 60), static_cast<unsigned>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%u:%02u", static_cast<unsigned>(s / 60),
                  static_cast<unsigned>(s % 60));
  }
  return buf;
}

std::string render_line(size_t width, uint64_t done, uint64_t total, double rate) {
  std::string stats = "  " + format_bytes(done);
  if (total > 0) stats += " / " + format_bytes(total);
  stats += "  " + format_rate(rate);
  if (total > 0) {
    double left = static_cast<double>(total > done ? total - done : 0);
    stats += "  ETA " + format_eta(done >= total ? 0 : rate > 0 ? left / rate : -1);
  }
  constexpr size_t kMinBar = 10;
  if (total > 0 && width >= stats.size() + kMinBar) {
    return bar(width - stats.size(), done, total) + stats;
  }
  stats.erase(0, 2);
  if (stats.size() > width) stats.resize(width);
  return stats;
}

std::string render_summary(std::string_view verb, uint64_t bytes, double seconds) {
  if (seconds < 0.001) seconds = 0.001;
  return std::string(verb) + " " + format_bytes(bytes) + " in " + fixed1(seconds) + " s (" +
         format_rate(static_cast<double>(bytes) / seconds) + ")";
}

Progress::Progress(FILE* out, bool enabled, uint64_t total, Clock clock)
    : out_(out), enabled_(enabled), total_(total), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
  start_ = last_draw_ = clock_();
  if (enabled_) width_ = terminal_width(out_);
}

bool Progress::enabled_for(FILE* out, bool quiet) { return !quiet && ::isatty(::fileno(out)); }

double Progress::seconds_since(std::chrono::steady_clock::time_point t) const {
  return std::chrono::duration<double>(clock_() - t).count();
}

void Progress::add(uint64_t bytes) {
  done_ += bytes;
  if (!enabled_ || clock_() - last_draw_ < kRedrawInterval) return;
  draw();
}

void Progress::draw() {
  auto now = clock_();
  double dt = std::chrono::duration<double>(now - last_draw_).count();
  if (dt > 0) {
    double sample = static_cast<double>(done_ - done_at_last_draw_) / dt;
    rate_ = drawn_ ? (1 - kSmoothing) * rate_ + kSmoothing * sample : sample;
  }
  last_draw_ = now;
  done_at_last_draw_ = done_;
  // One column short of the edge: writing the last column makes some terminals wrap.
  std::string line = render_line(width_ - 1, done_, total_, rate_);
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void Progress::clear() {
  if (!drawn_) return;
  std::fprintf(out_, "\r%s\r", std::string(width_ - 1, ' ').c_str());
  std::fflush(out_);
  drawn_ = false;
}

void Progress::finish(std::string_view verb) {
  if (!enabled_) return;
  clear();
  std::fprintf(out_, "%s\n", render_summary(verb, done_, seconds_since(start_)).c_str());
  std::fflush(out_);
  enabled_ = false;
}

}  // namespace shoal::cli
