#include "tracker/response.h"

#include <gtest/gtest.h>

#include "tracker/bencode.h"
#include "tracker/metainfo_cache.h"

namespace shoal::tracker {
namespace {

PeerEntry dual_peer() {
  PeerEntry p;
  p.peer_id = std::string(20, 'p');
  p.ipv4 = std::string("\x0a\x00\x00\x02", 4);
  p.ipv6 = std::string(15, '\0') + "\x01";
  p.port = 0x1AE1;  // 6881
  return p;
}

TEST(TrackerResponse, CompactPeersAndPeers6) {
  AnnounceReply r;
  r.interval = std::chrono::seconds(30);
  r.min_interval = std::chrono::seconds(15);
  r.complete = 1;
  r.incomplete = 2;
  r.compact = true;
  r.peers = {dual_peer()};
  auto v = bencode::decode(encode_announce(r));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find("interval")->as_int(), 30);
  EXPECT_EQ(v->find("min interval")->as_int(), 15);
  EXPECT_EQ(v->find("complete")->as_int(), 1);
  EXPECT_EQ(v->find("incomplete")->as_int(), 2);
  EXPECT_EQ(v->find("peers")->as_string(), std::string("\x0a\x00\x00\x02\x1a\xe1", 6));
  EXPECT_EQ(v->find("peers6")->as_string(), std::string(15, '\0') + "\x01\x1a\xe1");
}

TEST(TrackerResponse, DictPeersListEveryAddress) {
  AnnounceReply r;
  r.peers = {dual_peer()};
  auto v = bencode::decode(encode_announce(r));
  ASSERT_TRUE(v.ok());
  const auto& list = v->find("peers")->as_list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].find("ip")->as_string(), "10.0.0.2");
  EXPECT_EQ(list[0].find("port")->as_int(), 6881);
  EXPECT_EQ(list[0].find("peer id")->as_string(), std::string(20, 'p'));
  EXPECT_EQ(list[1].find("ip")->as_string(), "::1");
  EXPECT_EQ(v->find("peers6"), nullptr);
  r.no_peer_id = true;
  auto w = bencode::decode(encode_announce(r));
  EXPECT_EQ(w->find("peers")->as_list()[0].find("peer id"), nullptr);
}

TEST(TrackerResponse, FailureAndScrape) {
  EXPECT_EQ(encode_failure("missing port"), "d14:failure reason12:missing porte");
  std::string h(20, 'h');
  EXPECT_EQ(encode_scrape({{h, SwarmCounts{3, 4, 5}}}),
            "d5:filesd20:" + h + "d8:completei3e10:downloadedi5e10:incompletei4eeee");
  EXPECT_EQ(encode_scrape({}), "d5:filesdee");
}

TEST(TrackerMetainfoCache, EvictsLeastRecentlyUsedWithinBudget) {
  MetainfoCache cache(100);
  cache.put("a", std::string(30, 'x'));  // 31 bytes with the key
  cache.put("b", std::string(30, 'y'));
  cache.put("c", std::string(30, 'z'));
  EXPECT_TRUE(cache.get("a").has_value());  // a is now the most recent
  cache.put("d", std::string(30, 'w'));     // evicts b
  EXPECT_FALSE(cache.get("b").has_value());
  EXPECT_EQ(cache.get("a"), std::string(30, 'x'));
  EXPECT_TRUE(cache.get("c").has_value());
  EXPECT_TRUE(cache.get("d").has_value());
  EXPECT_LE(cache.bytes(), 100u);
  cache.put("huge", std::string(200, 'h'));  // over the whole budget: not kept
  EXPECT_FALSE(cache.get("huge").has_value());
  EXPECT_EQ(cache.entries(), 3u);
  cache.put("a", "short");  // replacing keeps the accounting right
  EXPECT_EQ(cache.bytes(), 31u + 31u + 6u);
}

}  // namespace
}  // namespace shoal::tracker
