#include "origin/pull_through.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/sha256.h"

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

std::shared_ptr<storage::RegistryBackend> upstream(const std::string& match) {
  storage::UpstreamSpec spec;
  spec.registry = *Url::parse("http://127.0.0.1:1");
  spec.match = match;
  return std::make_shared<storage::RegistryBackend>(spec);
}

TEST(PullThrough, NothingWithoutAnUpstream) { EXPECT_EQ(make_pull_through(nullptr), nullptr); }

TEST(PullThrough, TheFirstRepositorySeenForABlobIsKept) {
  PullThrough pull(upstream(".*"));
  EXPECT_FALSE(pull.repository_of(digest_of("layer")));
  pull.note_repository(digest_of("layer"), "team/app");
  pull.note_repository(digest_of("layer"), "team/other");
  EXPECT_EQ(pull.repository_of(digest_of("layer")), "team/app");
}

TEST(PullThrough, OnlyMatchingRepositoriesArePulled) {
  PullThrough pull(upstream("mirror/.*"));
  EXPECT_TRUE(pull.matches("mirror/app"));
  EXPECT_FALSE(pull.matches("local/app"));
}

TEST(PullThrough, ConcurrentMissesShareOneFetch) {
  PullThrough pull(upstream(".*"));
  std::atomic<int> fetches{0}, ran{0};
  std::atomic<bool> release{false};
  auto fetch = [&]() -> Result<void> {
    ++fetches;
    while (!release) std::this_thread::sleep_for(1ms);
    return Error(Errc::digest_mismatch, "wrong bytes");
  };
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto out = pull.once(digest_of("blob"), fetch);
      if (out.ran) ++ran;
      if (!out.result && out.result.error().is(Errc::digest_mismatch)) ++failed;
    });
  }
  std::this_thread::sleep_for(50ms);
  release = true;
  for (auto& t : threads) t.join();
  // A waiter arriving after the fetch ended may start its own: at most a few, never 4 at once.
  EXPECT_GE(fetches.load(), 1);
  EXPECT_EQ(ran.load(), fetches.load());
  EXPECT_EQ(failed.load(), 4);
}

TEST(PullThrough, AFetchAfterTheLastOneEndedRunsAgain) {
  PullThrough pull(upstream(".*"));
  int fetches = 0;
  auto fetch = [&]() -> Result<void> {
    ++fetches;
    return {};
  };
  EXPECT_TRUE(pull.once(digest_of("a"), fetch).ran);
  EXPECT_TRUE(pull.once(digest_of("a"), fetch).ran);
  EXPECT_EQ(fetches, 2);
}

}  // namespace
}  // namespace shoal::origin
