#include "tracker/handout.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace shoal::tracker {
namespace {

std::string id(const std::string& prefix, int n) {
  std::string s = prefix + std::to_string(n);
  s.resize(20, '.');
  return s;
}

PeerEntry peer(const std::string& peer_id, bool complete) {
  PeerEntry p;
  p.peer_id = peer_id;
  p.ipv4 = std::string("\x7f\x00\x00\x01", 4);
  p.port = 6881;
  p.complete = complete;
  p.is_origin = is_origin_peer_id(peer_id);
  return p;
}

// 3 seeders, 2 origins, 4 leechers, in a mixed order.
std::vector<PeerEntry> swarm() {
  std::vector<PeerEntry> s;
  for (int i = 0; i < 4; ++i) s.push_back(peer(id("-SHP-leech", i), false));
  for (int i = 0; i < 2; ++i) s.push_back(peer(id("-SHO-origin", i), true));
  for (int i = 0; i < 3; ++i) s.push_back(peer(id("-SHP-seed", i), true));
  return s;
}

std::vector<int> classes(const std::vector<PeerEntry>& v) {
  std::vector<int> out;
  for (const auto& p : v) out.push_back(HandoutPolicy::priority(p));
  return out;
}

TEST(Handout, OriginPrefix) {
  EXPECT_TRUE(is_origin_peer_id("-SHO0100-xxxxxxxxxxx"));
  EXPECT_FALSE(is_origin_peer_id("-SHP0100-xxxxxxxxxxx"));
  EXPECT_FALSE(is_origin_peer_id("-SH"));
  EXPECT_FALSE(is_origin_peer_id(""));
}

TEST(Handout, SeedersThenOriginsThenLeechers) {
  HandoutRng rng(1);
  auto out = HandoutPolicy::select(swarm(), "nobody", 50, rng);
  EXPECT_EQ(classes(out), (std::vector<int>{0, 0, 0, 1, 1, 2, 2, 2, 2}));
}

TEST(Handout, NeverHandsOutTheRequester) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    HandoutRng rng(seed);
    std::string self = id("-SHP-leech", 2);
    auto out = HandoutPolicy::select(swarm(), self, 50, rng);
    EXPECT_EQ(out.size(), 8u);
    for (const auto& p : out) EXPECT_NE(p.peer_id, self);
  }
  HandoutRng rng(0);
  std::vector<PeerEntry> alone{peer(id("-SHP-me", 0), false)};
  EXPECT_TRUE(HandoutPolicy::select(alone, id("-SHP-me", 0), 50, rng).empty());
}

TEST(Handout, AtMostNumwantAndBestClassesFirst) {
  HandoutRng rng(7);
  EXPECT_TRUE(HandoutPolicy::select(swarm(), "x", 0, rng).empty());
  EXPECT_EQ(classes(HandoutPolicy::select(swarm(), "x", 2, rng)), (std::vector<int>{0, 0}));
  EXPECT_EQ(classes(HandoutPolicy::select(swarm(), "x", 4, rng)), (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(classes(HandoutPolicy::select(swarm(), "x", 6, rng)),
            (std::vector<int>{0, 0, 0, 1, 1, 2}));
  EXPECT_TRUE(HandoutPolicy::select({}, "x", 50, rng).empty());
}

TEST(Handout, NoDuplicatesAndEveryPeerEventuallyChosen) {
  std::set<std::string> leechers_seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    HandoutRng rng(seed);
    auto out = HandoutPolicy::select(swarm(), "x", 6, rng);  // one leecher slot
    std::set<std::string> ids;
    for (const auto& p : out) ids.insert(p.peer_id);
    EXPECT_EQ(ids.size(), out.size());
    leechers_seen.insert(out.back().peer_id);
  }
  EXPECT_EQ(leechers_seen.size(), 4u) << "the random pick within a class must reach every peer";
}

TEST(Handout, ShuffledWithinClassDeterministicPerSeed) {
  auto order = [](uint64_t seed) {
    HandoutRng rng(seed);
    std::vector<std::string> ids;
    for (const auto& p : HandoutPolicy::select(swarm(), "x", 50, rng)) ids.push_back(p.peer_id);
    return ids;
  };
  EXPECT_EQ(order(42), order(42));
  std::set<std::vector<std::string>> orders;
  for (uint64_t seed = 0; seed < 50; ++seed) orders.insert(order(seed));
  EXPECT_GT(orders.size(), 10u) << "orders within classes should vary with the seed";
}

TEST(Handout, OriginsAreNotSeedersEvenWhenComplete) {
  EXPECT_EQ(HandoutPolicy::priority(peer(id("-SHO-o", 0), true)), 1);
  EXPECT_EQ(HandoutPolicy::priority(peer(id("-SHP-p", 0), true)), 0);
  EXPECT_EQ(HandoutPolicy::priority(peer(id("-SHP-p", 0), false)), 2);
}

}  // namespace
}  // namespace shoal::tracker
