#include "tracker/memory_peer_store.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace shoal::tracker {
namespace {

using namespace std::chrono_literals;

const std::string kHashA(20, 'a');
const std::string kHashB(20, 'b');

PeerEntry peer(char c, bool complete = false, uint16_t port = 6881) {
  PeerEntry p;
  p.peer_id = std::string(20, c);
  p.ipv4 = std::string("\x0a\x00\x00\x01", 4);
  p.port = port;
  p.complete = complete;
  return p;
}

// A fake clock: time only moves when the test says so.
struct FakeClock {
  TimePoint now{std::chrono::hours(1000)};
  void advance(std::chrono::milliseconds d) { now += d; }
};

TEST(PeerStore, UpsertRefreshesInsteadOfDuplicating) {
  MemoryPeerStore store(60s);
  FakeClock clock;
  ASSERT_TRUE(store.upsert(kHashA, peer('x'), clock.now).ok());
  ASSERT_TRUE(store.upsert(kHashA, peer('x', true, 7000), clock.now).ok());
  auto peers = store.live_peers(kHashA, clock.now);
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].port, 7000);
  EXPECT_TRUE((*peers)[0].complete);
  EXPECT_EQ(store.peer_count(), 1u);
  EXPECT_EQ(store.swarm_count(), 1u);
}

TEST(PeerStore, PeersExpireAfterTtlUnlessRefreshed) {
  MemoryPeerStore store(60s);
  FakeClock clock;
  ASSERT_TRUE(store.upsert(kHashA, peer('x'), clock.now).ok());
  ASSERT_TRUE(store.upsert(kHashA, peer('y'), clock.now).ok());
  clock.advance(40s);
  ASSERT_TRUE(store.upsert(kHashA, peer('y'), clock.now).ok());  // y re-announces
  clock.advance(20s);  // x is now exactly 60 s old: expired
  auto peers = store.live_peers(kHashA, clock.now);
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].peer_id, std::string(20, 'y'));
  EXPECT_EQ(store.live_counts(kHashA, clock.now)->incomplete, 1u);
  EXPECT_EQ(store.peer_count(), 2u) << "expired but not yet pruned";
  EXPECT_EQ(store.prune(clock.now), 1u);
  EXPECT_EQ(store.peer_count(), 1u);
  clock.advance(41s);
  EXPECT_TRUE(store.live_peers(kHashA, clock.now)->empty());
  EXPECT_EQ(store.prune(clock.now), 1u);
  EXPECT_EQ(store.peer_count(), 0u);
  EXPECT_EQ(store.swarm_count(), 0u) << "empty swarms are pruned";
}

TEST(PeerStore, CountsForScrape) {
  MemoryPeerStore store(60s);
  FakeClock clock;
  ASSERT_TRUE(store.upsert(kHashA, peer('s', true), clock.now).ok());
  ASSERT_TRUE(store.upsert(kHashA, peer('l'), clock.now).ok());
  ASSERT_TRUE(store.upsert(kHashA, peer('m'), clock.now).ok());
  ASSERT_TRUE(store.record_completed(kHashA).ok());
  ASSERT_TRUE(store.upsert(kHashB, peer('s', true), clock.now).ok());
  EXPECT_EQ(*store.live_counts(kHashA, clock.now), (SwarmCounts{1, 2, 1}));
  EXPECT_EQ(*store.live_counts(kHashB, clock.now), (SwarmCounts{1, 0, 0}));
  EXPECT_EQ(*store.live_counts(std::string(20, 'z'), clock.now), (SwarmCounts{0, 0, 0}));
  EXPECT_EQ(store.swarm_count(), 2u);
  EXPECT_EQ(store.peer_count(), 4u);
}

TEST(PeerStore, RemoveOnStopped) {
  MemoryPeerStore store(60s);
  FakeClock clock;
  ASSERT_TRUE(store.upsert(kHashA, peer('x'), clock.now).ok());
  ASSERT_TRUE(store.remove(kHashA, std::string(20, 'x')).ok());
  ASSERT_TRUE(store.remove(kHashA, std::string(20, 'q')).ok());
  ASSERT_TRUE(store.remove(kHashB, std::string(20, 'x')).ok());
  EXPECT_TRUE(store.live_peers(kHashA, clock.now)->empty());
  EXPECT_EQ(store.peer_count(), 0u);
}

TEST(PeerStore, FullStoreRefusesNewPeersButRefreshesKnownOnes) {
  MemoryPeerStore store(60s, 2);
  FakeClock clock;
  ASSERT_TRUE(store.upsert(kHashA, peer('x'), clock.now).ok());
  ASSERT_TRUE(store.upsert(kHashB, peer('y'), clock.now).ok());
  auto full = store.upsert(kHashA, peer('z'), clock.now);
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(full.error().is(Errc::too_large));
  EXPECT_TRUE(store.upsert(kHashA, peer('x', true), clock.now).ok());
  clock.advance(61s);
  store.prune(clock.now);
  EXPECT_TRUE(store.upsert(kHashA, peer('z'), clock.now).ok());
}

TEST(PeerStore, ConcurrentUseIsSafe) {
  MemoryPeerStore store(60s);
  FakeClock clock;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, &clock, t] {
      for (int i = 0; i < 500; ++i) {
        PeerEntry p = peer('a');
        p.peer_id = std::to_string(t) + ":" + std::to_string(i);
        (void)store.upsert(kHashA, p, clock.now);
        (void)store.live_peers(kHashA, clock.now);
        if (i % 2) (void)store.remove(kHashA, p.peer_id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store.peer_count(), 1000u);
  EXPECT_EQ(store.live_peers(kHashA, clock.now)->size(), 1000u);
}

}  // namespace
}  // namespace shoal::tracker
