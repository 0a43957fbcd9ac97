#include "origin/writeback_queue.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;
using Clock = WritebackQueue::Clock;

Digest digest_of(const std::string& content) { return Sha256::of(content.data(), content.size()); }
auto no_age = [](const Digest&) { return 0ms; };

TEST(WritebackQueue, WhatWasNotWrittenIsPendingAgainAfterARestart) {
  test::TempDir dir;
  auto t = Clock::now();
  const Digest a = digest_of("a"), b = digest_of("b"), c = digest_of("c");
  {
    WritebackQueue q(dir.path());
    ASSERT_TRUE(q.init({}, t, no_age));
    q.add(a, t);
    q.add(b, t);
    ASSERT_TRUE(q.written(a));
    EXPECT_EQ(q.pending(), 1u);
  }
  // The store after the "crash": a and b, plus c committed just before it.
  WritebackQueue again(dir.path());
  auto age = [&](const Digest& d) { return d == c ? 5s : 0s; };
  ASSERT_TRUE(again.init({a, b, c}, t, age));
  EXPECT_TRUE(again.is_written(a));
  EXPECT_TRUE(again.is_pending(b));
  EXPECT_TRUE(again.is_pending(c));
  EXPECT_EQ(again.pending(), 2u);
  EXPECT_EQ(again.oldest(t), 5s);
  again.add(a, t);  // committed again (a replica): the backend already holds it
  EXPECT_FALSE(again.is_pending(a));
}

TEST(WritebackQueue, ARunningBlobIsNotHandedOutTwiceAndFailuresBackOff) {
  test::TempDir dir;
  auto t = Clock::now();
  const Digest a = digest_of("a");
  WritebackQueue q(dir.path());
  ASSERT_TRUE(q.init({}, t, no_age));
  q.add(a, t);
  ASSERT_EQ(q.next(t), a);
  EXPECT_FALSE(q.next(t));  // running
  q.later(a, t, true);
  EXPECT_FALSE(q.next(t + 1s));
  ASSERT_EQ(q.next(t + 2s), a);
  q.later(a, t + 2s, true);
  EXPECT_FALSE(q.next(t + 5s));
  ASSERT_EQ(q.next(t + 6s), a);
  for (int i = 0; i < 20; ++i) q.later(a, t, true);
  EXPECT_TRUE(q.next(t + 60s));  // the backoff stops growing at a minute
}

TEST(WritebackQueue, ForgettingRemovesTheMarker) {
  test::TempDir dir;
  auto t = Clock::now();
  const Digest a = digest_of("a");
  {
    WritebackQueue q(dir.path());
    ASSERT_TRUE(q.init({}, t, no_age));
    q.add(a, t);
    ASSERT_TRUE(q.written(a));
    q.forget(a);
    EXPECT_FALSE(q.is_written(a));
  }
  WritebackQueue again(dir.path());
  ASSERT_TRUE(again.init({a}, t, no_age));
  EXPECT_TRUE(again.is_pending(a));  // stored again later: it must be written again
}

}  // namespace
}  // namespace shoal::origin
