#include "origin/replica_queue.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;
using Clock = ReplicaQueue::Clock;

CopyJob job(const std::string& content, const std::string& target) {
  return CopyJob{Sha256::of(content.data(), content.size()), *Url::parse(target)};
}

TEST(ReplicaQueue, JobsSurviveARestartUntilDone) {
  test::TempDir dir;
  auto t = Clock::now();
  auto a = job("a", "http://127.0.0.1:4101"), b = job("b", "http://127.0.0.1:4102");
  {
    ReplicaQueue q(dir.path());
    ASSERT_TRUE(q.init(t));
    ASSERT_TRUE(q.add(a, t));
    ASSERT_TRUE(q.add(a, t));  // idempotent
    ASSERT_TRUE(q.add(b, t));
    EXPECT_EQ(q.size(), 2u);
    q.done(a);
  }
  ReplicaQueue again(dir.path());
  ASSERT_TRUE(again.init(t));
  ASSERT_EQ(again.size(), 1u);
  auto next = again.next(t);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->digest, b.digest);
  EXPECT_EQ(next->target.str(), b.target.str());
}

TEST(ReplicaQueue, ATakenJobIsNotHandedOutUntilReleasedAndFailuresBackOff) {
  test::TempDir dir;
  auto t = Clock::now();
  ReplicaQueue q(dir.path());
  ASSERT_TRUE(q.init(t));
  auto a = job("a", "http://127.0.0.1:4101");
  ASSERT_TRUE(q.add(a, t, /*running=*/true));  // a push copies it itself
  EXPECT_FALSE(q.add(a, t, true));              // not twice
  EXPECT_FALSE(q.next(t));                      // nor by the background pump
  q.release(a);
  auto again = q.next(t);
  ASSERT_TRUE(again);
  q.failed(a, t);
  EXPECT_FALSE(q.next(t + 500ms));
  EXPECT_TRUE(q.next(t + 1s));
  q.failed(a, t + 1s);
  EXPECT_FALSE(q.next(t + 2500ms));  // the second wait is longer
  EXPECT_TRUE(q.next(t + 3s));
  EXPECT_EQ(q.jobs_for(a.digest).size(), 1u);
  EXPECT_EQ(q.oldest(t + 3s), 3s);
}

TEST(ReplicaQueue, UnreadableJobFilesAreDroppedAtStart) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path());
  std::FILE* f = std::fopen((dir.path() / "nonsense").c_str(), "w");
  std::fputs("not a url\n", f);
  std::fclose(f);
  ReplicaQueue q(dir.path());
  ASSERT_TRUE(q.init(Clock::now()));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "nonsense"));
}

}  // namespace
}  // namespace shoal::origin
