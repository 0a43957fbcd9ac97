#include "core/store/pipelined_sink.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal {
namespace {

TEST(PipelinedSink, ConsumesEverythingInOrder) {
  std::string seen;
  PipelinedSink sink(
      [&](const char* p, size_t n) -> Result<void> {
        seen.append(p, n);
        return {};
      },
      1000);
  std::string data(25'003, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  for (size_t off = 0; off < data.size(); off += 777) {
    ASSERT_TRUE(sink.write(data.data() + off, std::min<size_t>(777, data.size() - off)).ok());
  }
  ASSERT_TRUE(sink.finish().ok());
  EXPECT_EQ(seen, data);
}

TEST(PipelinedSink, StopsAtTheFirstConsumerError) {
  int calls = 0;
  PipelinedSink sink(
      [&](const char*, size_t) -> Result<void> {
        if (++calls == 2) return Error(Errc::disk_full, "no room");
        return {};
      },
      16);
  std::string chunk(16, 'x');
  Result<void> last;
  for (int i = 0; i < 50 && last.ok(); ++i) last = sink.write(chunk.data(), chunk.size());
  auto done = sink.finish();
  ASSERT_FALSE(done.ok());
  EXPECT_TRUE(done.error().is(Errc::disk_full));
  EXPECT_EQ(calls, 2);  // nothing consumed after the error
}

TEST(PipelinedSink, ProducerFillsTheBuffersInPlace) {
  std::string seen;
  PipelinedSink sink(
      [&](const char* p, size_t n) -> Result<void> {
        seen.append(p, n);
        return {};
      },
      64);
  std::string want;
  for (int i = 0; i < 40; ++i) {
    auto slot = sink.acquire();
    ASSERT_TRUE(slot.ok());
    ASSERT_EQ(slot->size(), 64u);
    size_t n = static_cast<size_t>(i % 65);  // 0 gives the buffer back unused
    for (size_t k = 0; k < n; ++k) (*slot)[k] = static_cast<char>('A' + (i + k) % 26);
    want.append(slot->data(), n);
    ASSERT_TRUE(sink.commit(n).ok());
  }
  ASSERT_TRUE(sink.finish().ok());
  EXPECT_EQ(seen, want);
}

TEST(PipelinedSink, AcquireReportsTheConsumerError) {
  PipelinedSink sink([](const char*, size_t) -> Result<void> { return Error(Errc::io_error, "eio"); },
                     8);
  Result<std::span<char>> slot = sink.acquire();
  for (int i = 0; i < 10 && slot.ok(); ++i) {
    ASSERT_TRUE(sink.commit(8).ok());
    slot = sink.acquire();
  }
  ASSERT_FALSE(slot.ok());
  EXPECT_TRUE(slot.error().is(Errc::io_error));
}

TEST(PipelinedSink, FinishTwiceAndDestroyAreSafe) {
  PipelinedSink sink([](const char*, size_t) -> Result<void> { return {}; });
  ASSERT_TRUE(sink.write("abc", 3).ok());
  EXPECT_TRUE(sink.finish().ok());
  EXPECT_TRUE(sink.finish().ok());
}

}  // namespace
}  // namespace shoal
