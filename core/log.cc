#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace shoal::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{1};
// Serialises the write loop: a single write(2) to a pipe is only atomic up to
// PIPE_BUF, and a partial write must be finished before another thread writes.
std::mutex g_write_mu;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

void append_timestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(ms % 1000));
  out.append(buf, static_cast<size_t>(n));
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is malformed
// (bad lead byte, truncated, overlong, surrogate, or beyond U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
  if (len == 0 || c > 0xf4 || c == 0xc0 || c == 0xc1 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  unsigned char c1 = byte(i + 1);
  if (c == 0xe0 && c1 < 0xa0) return 0;   // overlong 3-byte form
  if (c == 0xed && c1 >= 0xa0) return 0;  // UTF-16 surrogates
  if (c == 0xf0 && c1 < 0x90) return 0;   // overlong 4-byte form
  if (c == 0xf4 && c1 >= 0x90) return 0;  // above U+10FFFF
  return len;
}

void append_control_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default:
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
  }
}

// Invalid UTF-8 becomes U+FFFD so every line stays valid JSON whatever a peer sent.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      append_control_escape(out, c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (size_t len = utf8_sequence_length(s, i); len > 0) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out += '"';
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_value(std::string& out, const Field::Value& value) {
  if (auto* s = std::get_if<std::string_view>(&value)) {
    append_json_string(out, *s);
  } else if (auto* i = std::get_if<int64_t>(&value)) {
    append_number(out, *i);
  } else if (auto* u = std::get_if<uint64_t>(&value)) {
    append_number(out, *u);
  } else if (auto* d = std::get_if<double>(&value)) {
    // JSON has no NaN or infinity; shortest round-trip form otherwise.
    if (std::isfinite(*d)) {
      append_number(out, *d);
    } else {
      out += "null";
    }
  } else {
    out += std::get<bool>(value) ? "true" : "false";
  }
}

void write_all(int fd, std::string_view data) {
  std::lock_guard lock(g_write_mu);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing log sink
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_fd(int fd) { g_fd.store(fd, std::memory_order_relaxed); }

std::string format(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(96 + msg.size());
  out += "{\"ts\":\"";
  append_timestamp(out);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += "\",\"msg\":";
  append_json_string(out, msg);
  for (const Field& f : fields) {
    out += ',';
    append_json_string(out, f.key);
    out += ':';
    append_value(out, f.value);
  }
  out += "}\n";
  return out;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line = format(level, msg, fields);
  write_all(g_fd.load(std::memory_order_relaxed), line);
}

}  // namespace shoal::log
