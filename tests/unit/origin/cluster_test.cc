#include "origin/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;

Url url(const std::string& s) { return *Url::parse(s); }

ClusterOptions ring_of(int n, int self) {
  ClusterOptions o;
  std::string list;
  for (int i = 1; i <= n; ++i) list += (i > 1 ? "," : "") + std::string("http://127.0.0.1:") +
                                       std::to_string(4100 + i);
  o.origins = *EndpointList::parse(list);
  o.self = url("http://127.0.0.1:" + std::to_string(4100 + self));
  o.fails_to_down = 2;
  o.passes_to_up = 2;
  o.repair_after = 10s;
  return o;
}

const std::string kKey = "sha256:" + std::string(64, 'a');

TEST(Cluster, RefusesASelfThatIsNotAMember) {
  auto o = ring_of(3, 1);
  o.self = url("http://127.0.0.1:9999");
  try {
    Cluster c(o, SteadyClock::now());
    FAIL() << "accepted a self outside the ring";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not one of the origins"), std::string::npos);
  }
}

TEST(Cluster, WithoutOriginsIsARingOfOne) {
  ClusterOptions o;
  o.self = url("http://127.0.0.1:4100");
  Cluster c(o, SteadyClock::now());
  EXPECT_FALSE(c.enabled());
  EXPECT_EQ(c.replicas(), 1u);
  EXPECT_EQ(c.write_quorum(), 1u);
  EXPECT_TRUE(c.is_owner(kKey, SteadyClock::now()));
}

TEST(Cluster, ReplicasAndQuorumNeverExceedTheMembers) {
  auto o = ring_of(2, 1);
  Cluster c(o, SteadyClock::now());
  EXPECT_EQ(c.replicas(), 2u);
  EXPECT_EQ(c.write_quorum(), 2u);
}

TEST(Cluster, AMemberGoesDownAfterConsecutiveFailuresAndKeepsItsPlace) {
  auto t = SteadyClock::now();
  Cluster c(ring_of(4, 1), t);
  auto before = c.owners(kKey, t);
  Url victim = before[0].self ? before[1].url : before[0].url;
  c.report_check(victim, false, std::nullopt, t);
  for (const auto& o : c.owners(kKey, t)) EXPECT_TRUE(o.up);  // one failure is not enough
  c.report_failure(victim, t);
  auto after = c.owners(kKey, t);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].url.str(), before[i].url.str());  // no reshuffle
    EXPECT_EQ(after[i].up, after[i].url.str() != victim.str());
  }
  c.report_check(victim, true, c.fingerprint(), t + 1s);
  EXPECT_FALSE(c.owners(kKey, t + 1s)[0].up && c.owners(kKey, t + 1s)[1].up &&
               c.owners(kKey, t + 1s)[2].up);  // one pass is not enough either
  c.report_check(victim, true, c.fingerprint(), t + 2s);
  for (const auto& o : c.owners(kKey, t + 2s)) EXPECT_TRUE(o.up);
}

TEST(Cluster, AMemberDownPastRepairAfterIsReplacedInTheRepairSet) {
  auto t = SteadyClock::now();
  Cluster c(ring_of(4, 1), t);
  auto owners = c.owners(kKey, t);
  auto order = c.order(kKey, t);
  Url victim;
  for (const auto& o : owners) {
    if (!o.self) victim = o.url;
  }
  c.report_failure(victim, t);
  c.report_failure(victim, t);
  auto early = c.repair_owners(kKey, t + 5s);
  EXPECT_EQ(early.size(), 3u);
  EXPECT_TRUE(std::any_of(early.begin(), early.end(),
                          [&](const Owner& o) { return o.url.str() == victim.str(); }));
  auto late = c.repair_owners(kKey, t + 11s);
  ASSERT_EQ(late.size(), 3u);
  EXPECT_FALSE(std::any_of(late.begin(), late.end(),
                           [&](const Owner& o) { return o.url.str() == victim.str(); }));
  EXPECT_EQ(late.back().url.str(), order[3].url.str());  // the next in order steps in
}

TEST(Cluster, DifferentMemberListsAreReportedAsAMismatch) {
  auto t = SteadyClock::now();
  Cluster c(ring_of(3, 1), t);
  Url peer = c.peers()[0];
  c.report_check(peer, true, c.fingerprint() + 1, t);
  EXPECT_EQ(c.mismatches(), 1u);
  c.report_check(peer, true, c.fingerprint(), t);
  EXPECT_EQ(c.mismatches(), 0u);
}

TEST(Cluster, NewMembersKeepTheHealthOfThoseThatStay) {
  auto t = SteadyClock::now();
  Cluster c(ring_of(3, 1), t);
  Url peer = url("http://127.0.0.1:4102");
  c.report_failure(peer, t);
  c.report_failure(peer, t);
  std::vector<Url> grown;
  for (int i = 1; i <= 4; ++i) grown.push_back(url("http://127.0.0.1:" + std::to_string(4100 + i)));
  c.set_members(grown, t);
  EXPECT_EQ(c.members().size(), 4u);
  for (const auto& m : c.status(t)) EXPECT_EQ(m.up, m.url.str() != peer.str());
}

}  // namespace
}  // namespace shoal::origin
