#include "peer/rate_pacer.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

using ms = std::chrono::milliseconds;
const RatePacer::Clock::time_point t0 = RatePacer::Clock::time_point{} + std::chrono::hours(1);

TEST(RatePacer, LetsHalfASecondThroughAtOnceThenPacesAtTheRate) {
  RatePacer p(1'000'000);  // 1 MB/s
  EXPECT_EQ(p.admit(500'000, 0, t0), RatePacer::Clock::duration::zero());
  EXPECT_EQ(p.admit(250'000, 0, t0), RatePacer::Clock::duration::zero());  // tokens: -250k
  EXPECT_EQ(p.admit(250'000, 0, t0), ms(250));
  EXPECT_GT(p.admit(250'000, 0, t0 + ms(249)), RatePacer::Clock::duration::zero());
  EXPECT_EQ(p.admit(250'000, 0, t0 + ms(250)), RatePacer::Clock::duration::zero());
}

TEST(RatePacer, BytesFromBitTorrentUseTheSameBudget) {
  RatePacer p(1'000'000);
  EXPECT_EQ(p.admit(100'000, 0, t0), RatePacer::Clock::duration::zero());  // starts the count
  // BitTorrent took 1 MB in the next half second, 0.5 s more than the budget: the
  // hand-out waits that long.
  EXPECT_EQ(p.admit(100'000, 1'000'000, t0 + ms(500)), ms(500));
  EXPECT_EQ(p.admit(100'000, 1'000'000, t0 + ms(1'000)), RatePacer::Clock::duration::zero());
}

TEST(RatePacer, IdleTimeSavesNoMoreThanHalfASecond) {
  RatePacer p(1'000'000);
  p.admit(500'000, 0, t0);
  EXPECT_EQ(p.admit(500'000, 0, t0 + std::chrono::seconds(60)), RatePacer::Clock::duration::zero());
  EXPECT_EQ(p.admit(1, 0, t0 + std::chrono::seconds(60)), RatePacer::Clock::duration::zero());
  EXPECT_EQ(p.admit(1, 0, t0 + std::chrono::seconds(60)), ms(1));  // never less than 1 ms
}

TEST(RatePacer, WhatDidNotComeIsGivenBack) {
  RatePacer p(1'000'000);
  EXPECT_EQ(p.admit(500'000, 0, t0), RatePacer::Clock::duration::zero());
  EXPECT_EQ(p.admit(500'000, 0, t0), RatePacer::Clock::duration::zero());
  p.refund(500'000);  // a 204: nothing came
  EXPECT_EQ(p.admit(500'000, 0, t0), RatePacer::Clock::duration::zero());
  EXPECT_EQ(p.admit(1, 0, t0), ms(500));
}

}  // namespace
}  // namespace shoal::peer
