#include "core/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace shoal::log {
namespace {

constexpr std::string_view kTsOpen = "{\"ts\":\"";
constexpr std::string_view kTsShape = "dddd-dd-ddTdd:dd:dd.dddZ";  // 'd' is any digit

// No std::regex in this file: GCC 12 warns inside <regex> under the sanitizers.
bool has_ts_prefix(std::string_view line) {
  if (!line.starts_with(kTsOpen) || line.size() < kTsOpen.size() + kTsShape.size() + 2)
    return false;
  std::string_view ts = line.substr(kTsOpen.size(), kTsShape.size());
  for (size_t i = 0; i < kTsShape.size(); ++i) {
    bool digit = ts[i] >= '0' && ts[i] <= '9';
    if (kTsShape[i] == 'd' ? !digit : ts[i] != kTsShape[i]) return false;
  }
  return line.substr(kTsOpen.size() + kTsShape.size(), 2) == "\",";
}

// Checks each line's timestamp shape and replaces it, so the rest compares exactly.
std::string without_ts(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        std::string_view(text).substr(pos, nl == std::string::npos ? nl : nl - pos + 1);
    EXPECT_TRUE(has_ts_prefix(line)) << line;
    out += "{\"ts\":\"TS\",";
    out += line.substr(std::min(line.size(), kTsOpen.size() + kTsShape.size() + 2));
    pos += line.size();
  }
  return out;
}

std::string fmt(std::string_view msg, std::initializer_list<Field> fields = {}) {
  return without_ts(format(Level::info, msg, fields));
}

// Restores the global sink and level whatever a test did.
class LogSinkTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_fd(1);
    set_level(Level::info);
  }
};

std::string drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(LogFormat, ExampleLineFromHeader) {
  EXPECT_EQ(fmt("listening", {{"addr", "127.0.0.1:4100"}}),
            R"({"ts":"TS","level":"info","msg":"listening","addr":"127.0.0.1:4100"})"
            "\n");
}

TEST(LogFormat, LevelNames) {
  EXPECT_EQ(without_ts(format(Level::debug, "m", {})), R"({"ts":"TS","level":"debug","msg":"m"})"
                                                       "\n");
  EXPECT_EQ(without_ts(format(Level::warn, "m", {})), R"({"ts":"TS","level":"warn","msg":"m"})"
                                                      "\n");
  EXPECT_EQ(without_ts(format(Level::error, "m", {})), R"({"ts":"TS","level":"error","msg":"m"})"
                                                       "\n");
}

TEST(LogFormat, FieldTypes) {
  std::string s = "owned";
  EXPECT_EQ(fmt("x", {{"i", -42},
                      {"u", std::numeric_limits<uint64_t>::max()},
                      {"min", std::numeric_limits<int64_t>::min()},
                      {"small", static_cast<uint8_t>(7)},
                      {"t", true},
                      {"f", false},
                      {"s", s},
                      {"sv", std::string_view("view")}}),
            R"({"ts":"TS","level":"info","msg":"x","i":-42,"u":18446744073709551615,)"
            R"("min":-9223372036854775808,"small":7,"t":true,"f":false,"s":"owned","sv":"view"})"
            "\n");
}

TEST(LogFormat, Doubles) {
  EXPECT_EQ(fmt("d", {{"a", 1.5}, {"b", 0.1}, {"c", 3.0}, {"d", 1e21}, {"e", -2.5e-7}}),
            R"({"ts":"TS","level":"info","msg":"d","a":1.5,"b":0.1,"c":3,"d":1e+21,"e":-2.5e-07})"
            "\n");
}

TEST(LogFormat, NonFiniteDoublesAreNull) {
  EXPECT_EQ(fmt("d", {{"nan", std::numeric_limits<double>::quiet_NaN()},
                      {"inf", std::numeric_limits<double>::infinity()},
                      {"ninf", -std::numeric_limits<double>::infinity()}}),
            R"({"ts":"TS","level":"info","msg":"d","nan":null,"inf":null,"ninf":null})"
            "\n");
}

TEST(LogFormat, EscapesQuotesBackslashAndControls) {
  EXPECT_EQ(fmt("a\"b\\c\nd\re\tf", {{"k\"ey", std::string_view("\x01\x1f\x7f", 3)}}),
            R"({"ts":"TS","level":"info","msg":"a\"b\\c\nd\re\tf","k\"ey":"\u0001\u001f)"
            "\x7f\"}\n");
}

TEST(LogFormat, EmbeddedNulIsEscaped) {
  EXPECT_EQ(fmt(std::string_view("a\0b", 3)), R"({"ts":"TS","level":"info","msg":"a\u0000b"})"
                                              "\n");
}

TEST(LogFormat, ValidUtf8PassesThrough) {
  EXPECT_EQ(fmt("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
            "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"h\xc3\xa9llo \xe2\x82\xac "
            "\xf0\x9f\x98\x80\"}\n");
}

TEST(LogFormat, InvalidUtf8BecomesReplacementCharacter) {
  const std::string r = "\xef\xbf\xbd";
  auto msg_of = [](std::string_view m) {
    std::string line = fmt(m);
    size_t start = line.find("\"msg\":\"") + 7;
    return line.substr(start, line.size() - start - 3);  // drop "}\n
  };
  EXPECT_EQ(msg_of("a\xff"
                   "b"),
            "a" + r + "b");
  EXPECT_EQ(msg_of("\xe2\x82"), r + r);                  // truncated sequence
  EXPECT_EQ(msg_of("\xc0\xaf"), r + r);                  // overlong '/'
  EXPECT_EQ(msg_of("\xed\xa0\x80"), r + r + r);          // UTF-16 surrogate
  EXPECT_EQ(msg_of("\xf4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(msg_of("\x80"), r);                          // lone continuation byte
}

TEST(LogFormat, TimestampIsCurrentUtc) {
  std::string line = format(Level::info, "m", {});
  ASSERT_TRUE(has_ts_prefix(line)) << line;
  auto field = [&](size_t at, size_t len) {
    return std::stoi(line.substr(kTsOpen.size() + at, len));
  };
  std::tm tm{};
  tm.tm_year = field(0, 4) - 1900;
  tm.tm_mon = field(5, 2) - 1;
  tm.tm_mday = field(8, 2);
  tm.tm_hour = field(11, 2);
  tm.tm_min = field(14, 2);
  tm.tm_sec = field(17, 2);
  std::time_t logged = timegm(&tm);
  std::time_t now = std::time(nullptr);
  EXPECT_LE(std::abs(static_cast<long>(now - logged)), 2L);
}

TEST(LogLevel, Parse) {
  Level l = Level::error;
  EXPECT_TRUE(parse_level("debug", l));
  EXPECT_EQ(l, Level::debug);
  EXPECT_TRUE(parse_level("warn", l));
  EXPECT_EQ(l, Level::warn);
  EXPECT_TRUE(parse_level("info", l));
  EXPECT_EQ(l, Level::info);
  EXPECT_TRUE(parse_level("error", l));
  EXPECT_EQ(l, Level::error);
  EXPECT_FALSE(parse_level("INFO", l));
  EXPECT_FALSE(parse_level("warning", l));
  EXPECT_FALSE(parse_level("", l));
  EXPECT_EQ(l, Level::error);  // untouched on failure
}

TEST_F(LogSinkTest, LevelFilterDropsLowerLevels) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK), 0);
  set_fd(p[1]);
  set_level(Level::warn);
  debug("d");
  info("i", {{"k", 1}});
  warn("w");
  error("e", {{"k", "v"}});
  std::string out = drain(p[0]);
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_EQ(without_ts(out), R"({"ts":"TS","level":"warn","msg":"w"})"
                             "\n"
                             R"({"ts":"TS","level":"error","msg":"e","k":"v"})"
                             "\n");
}

TEST_F(LogSinkTest, DefaultLevelIsInfo) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK), 0);
  set_fd(p[1]);
  debug("hidden");
  info("shown");
  std::string out = drain(p[0]);
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("\"msg\":\"shown\""), std::string::npos);
}

TEST_F(LogSinkTest, DebugLevelShowsEverything) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK), 0);
  set_fd(p[1]);
  set_level(Level::debug);
  debug("d");
  std::string out = drain(p[0]);
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_NE(out.find("\"level\":\"debug\""), std::string::npos);
}

// Lines far above PIPE_BUF from several threads must still come out whole.
TEST_F(LogSinkTest, ConcurrentLongLinesNeverInterleave) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  set_fd(fileno(f));
  constexpr int kThreads = 4;
  constexpr int kLines = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      std::string body(20000, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) info(body, {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  std::rewind(f);
  std::string all;
  char buf[65536];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) all.append(buf, n);
  std::fclose(f);
  size_t count = 0;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string line = all.substr(pos, nl - pos);
    EXPECT_TRUE(has_ts_prefix(line)) << "line " << count;
    size_t body = line.find("\"msg\":\"");
    ASSERT_NE(body, std::string::npos) << "line " << count;
    body += 7;
    char c = line[body];
    EXPECT_TRUE(c >= 'a' && c <= 'd');
    EXPECT_EQ(line.substr(body, 20000), std::string(20000, c)) << "line " << count;
    EXPECT_EQ(line.substr(body + 20000, 12),
              "\",\"thread\":" + std::string(1, static_cast<char>('0' + c - 'a')))
        << "line " << count;
    EXPECT_TRUE(line.ends_with("}")) << "line " << count;
    pos = nl + 1;
    ++count;
  }
  EXPECT_EQ(count, static_cast<size_t>(kThreads * kLines));
}

}  // namespace
}  // namespace shoal::log
