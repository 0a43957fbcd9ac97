#include "peer/receive_rate.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

using std::chrono::milliseconds;

TEST(ReceiveRate, UnknownUntilAPieceWasTimed) {
  ReceiveRate r;
  EXPECT_FALSE(r.bytes_per_second());
  r.sample(1'000'000, milliseconds(500));
  EXPECT_EQ(r.bytes_per_second(), 2'000'000u);
}

TEST(ReceiveRate, TheLatestPieceWeighsHalf) {
  ReceiveRate r;
  r.sample(1'000'000, milliseconds(100));    // 10 MB/s
  r.sample(1'000'000, milliseconds(1'000));  // 1 MB/s: the link got busy
  EXPECT_EQ(r.bytes_per_second(), 5'500'000u);
}

TEST(ReceiveRate, TooFewBytesOrNoTimeAtAllSayLittle) {
  ReceiveRate r;
  r.sample(ReceiveRate::kMinSampleBytes - 1, milliseconds(1'000));
  EXPECT_FALSE(r.bytes_per_second());
  // All of it at once (it waited in the socket): at most a millisecond's worth counts.
  r.sample(1'000'000, milliseconds(0));
  EXPECT_EQ(r.bytes_per_second(), 1'000'000'000u);
}

}  // namespace
}  // namespace shoal::peer
