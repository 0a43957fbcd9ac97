#include "cli/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace shoal::cli {
namespace {

using namespace std::chrono_literals;

TEST(Progress, FormatBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(412ull << 20), "412.0 MiB");
  EXPECT_EQ(format_bytes(1ull << 30), "1.0 GiB");
  EXPECT_EQ(format_bytes(3ull << 40), "3.0 TiB");
}

TEST(Progress, FormatRate) {
  EXPECT_EQ(format_rate(512.3 * (1 << 20)), "512.3 MiB/s");
  EXPECT_EQ(format_rate(0), "0 B/s");
  EXPECT_EQ(format_rate(-5), "0 B/s");
  EXPECT_EQ(format_rate(1.0 / 0.0), "0 B/s");
}

TEST(Progress, FormatEta) {
  EXPECT_EQ(format_eta(0), "0:00");
  EXPECT_EQ(format_eta(2.4), "0:02");
  EXPECT_EQ(format_eta(62), "1:02");
  EXPECT_EQ(format_eta(3723), "1:02:03");
  EXPECT_EQ(format_eta(-1), "-:--");
  EXPECT_EQ(format_eta(1e9), "-:--");
}

TEST(Progress, RenderLineWithBar) {
  std::string line = render_line(80, 412ull << 20, 1ull << 30, 512.3 * (1 << 20));
  EXPECT_EQ(line.size(), 80u);
  EXPECT_EQ(line.front(), '[');
  EXPECT_NE(line.find("=>"), std::string::npos);
  EXPECT_NE(line.find("]  412.0 MiB / 1.0 GiB  512.3 MiB/s  ETA 0:01"), std::string::npos) << line;
}

TEST(Progress, RenderLineBarProportions) {
  // Width 32 leaves a 10-column bar (8 inside) next to these stats.
  std::string stats = "  512 B / 1.0 KiB  0 B/s  ETA -:--";
  std::string line = render_line(stats.size() + 10, 512, 1024, 0);
  EXPECT_EQ(line, "[====>   ]" + stats);
  std::string empty = render_line(50, 0, 1024, 0);
  EXPECT_EQ(empty,
            "[>" + std::string(empty.find(']') - 2, ' ') + "]  0 B / 1.0 KiB  0 B/s  ETA -:--");
  std::string full = render_line(60, 1024, 1024, 100);
  EXPECT_EQ(full.substr(0, full.find(']') + 1), "[" + std::string(full.find(']') - 1, '=') + "]");
  EXPECT_NE(full.find("ETA 0:00"), std::string::npos);
}

TEST(Progress, RenderLineNarrowOrUnknownTotal) {
  EXPECT_EQ(render_line(80, 2048, 0, 1024), "2.0 KiB  1.0 KiB/s");
  std::string narrow = render_line(20, 512, 1024, 0);
  EXPECT_EQ(narrow.size(), 20u);
  EXPECT_EQ(narrow.find('['), std::string::npos);
}

TEST(Progress, Summary) {
  EXPECT_EQ(render_summary("pushed", 1ull << 30, 2.0), "pushed 1.0 GiB in 2.0 s (512.0 MiB/s)");
  EXPECT_EQ(render_summary("pulled", 0, 0), "pulled 0 B in 0.0 s (0 B/s)");
}

// Reads back what a Progress wrote into a temporary FILE.
std::string contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  for (int c; (c = std::fgetc(f)) != EOF;) out += static_cast<char>(c);
  return out;
}

TEST(Progress, RedrawsAtMostEveryHundredMilliseconds) {
  auto now = std::chrono::steady_clock::time_point{};
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress p(f, true, 1000, [&] { return now; });
  p.add(100);  // t=0: too soon
  now += 50ms;
  p.add(100);  // still too soon
  EXPECT_EQ(contents(f), "");
  now += 50ms;
  p.add(100);  // 300 bytes in 100 ms
  std::string out = contents(f);
  EXPECT_EQ(out.front(), '\r');
  EXPECT_NE(out.find("300 B / 1000 B  2.9 KiB/s"), std::string::npos) << out;
  now += 2s;
  p.add(700);
  p.finish("pushed");
  out = contents(f);
  EXPECT_NE(out.find("pushed 1000 B in 2.1 s (476 B/s)\n"), std::string::npos) << out;
  std::fclose(f);
}

TEST(Progress, DisabledWritesNothing) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  auto now = std::chrono::steady_clock::time_point{};
  Progress p(f, false, 10, [&] { return now; });
  now += 1s;
  p.add(10);
  p.finish("pulled");
  EXPECT_EQ(contents(f), "");
  EXPECT_EQ(p.done(), 10u);
  std::fclose(f);
}

}  // namespace
}  // namespace shoal::cli
