// A one-line progress bar for transfers on a terminal:
//   [=====>     ]  412.0 MiB / 1.0 GiB  512.3 MiB/s  ETA 0:02
// The formatting is pure (unit-tested); Progress only decides when to redraw and
// writes. It draws nothing unless its stream is a terminal and --quiet is off.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace shoal::cli {

std::string format_bytes(uint64_t bytes);          // "512 B", "1.5 KiB", "412.0 MiB"
std::string format_rate(double bytes_per_second);  // "512.3 MiB/s"
std::string format_eta(double seconds);            // "0:02", "1:02:03"; "-:--" if unknown
// The whole line, exactly `width` columns or fewer; total 0 means unknown (no bar, no ETA).
std::string render_line(size_t width, uint64_t done, uint64_t total, double rate);
// "pushed 1.0 GiB in 2.1 s (487.6 MiB/s)"
std::string render_summary(std::string_view verb, uint64_t bytes, double seconds);

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `enabled` is the caller's decision (tty and not --quiet); see enabled_for().
  Progress(FILE* out, bool enabled, uint64_t total, Clock clock = {});
  static bool enabled_for(FILE* out, bool quiet);

  void set_total(uint64_t total) { total_ = total; }
  // Counts bytes moved; redraws at most every 100 ms.
  void add(uint64_t bytes);
  // Counts from 0 again: the transfer started over elsewhere (another origin).
  void rewind() { done_ = done_at_last_draw_ = 0; }
  // Replaces the bar with the summary line; safe to call when disabled.
  void finish(std::string_view verb);
  // Erases the bar (before an error line goes to stderr on the same terminal).
  void clear();

  uint64_t done() const { return done_; }
  double rate() const { return rate_; }

 private:
  double seconds_since(std::chrono::steady_clock::time_point t) const;
  void draw();

  FILE* out_;
  bool enabled_;
  uint64_t total_;
  Clock clock_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  uint64_t done_ = 0, done_at_last_draw_ = 0;
  double rate_ = 0;  // smoothed bytes per second
  bool drawn_ = false;
  size_t width_ = 80;
};

}  // namespace shoal::cli
