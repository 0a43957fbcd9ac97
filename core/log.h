// Structured logs: one JSON object per line on stdout, written with one write(2)
// so lines from several threads never interleave.
//   {"ts":"2026-11-23T13:45:01.123Z","level":"info","msg":"listening","addr":"127.0.0.1:4100"}
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace shoal::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

struct Field {
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  std::string_view key;
  Value value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <class I>
    requires std::is_integral_v<I> && (!std::is_same_v<I, bool>)
  Field(std::string_view k, I v)
      : key(k), value(std::is_signed_v<I> ? Value(static_cast<int64_t>(v))
                                          : Value(static_cast<uint64_t>(v))) {}
};

// Lines below this level are dropped. Default: info.
void set_level(Level level);
// Parses "debug", "info", "warn", "error"; false if unknown.
bool parse_level(std::string_view text, Level& out);
// Redirects output to a file descriptor (default 1); tests point it at a pipe.
void set_fd(int fd);

// Formats one line (with trailing '\n') without writing it: used by write() and tests.
std::string format(Level level, std::string_view msg, std::initializer_list<Field> fields);
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

}  // namespace shoal::log
