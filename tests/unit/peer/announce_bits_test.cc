#include "peer/announce_bits.h"

#include <gtest/gtest.h>

namespace shoal::peer {
namespace {

TEST(AnnounceBits, SetsReplacesAndRemovesTheParameter) {
  EXPECT_EQ(with_have("http://t:1/announce", "80"), "http://t:1/announce?shoal_have=80");
  EXPECT_EQ(with_have("http://t:1/announce?shoal_have=00", "c0"),
            "http://t:1/announce?shoal_have=c0");
  EXPECT_EQ(with_have("http://t:1/announce?a=1&shoal_have=00&b=2", "ff"),
            "http://t:1/announce?a=1&b=2&shoal_have=ff");
  EXPECT_EQ(with_have("http://t:1/announce?shoal_have=00", ""), "http://t:1/announce");
  EXPECT_EQ(with_have("http://t:1/announce?shoal_havex=1", "ff"),
            "http://t:1/announce?shoal_havex=1&shoal_have=ff");
}

TEST(AnnounceBits, HexInBitTorrentOrderWithinTheBound) {
  EXPECT_EQ(have_hex({true, false, false, false, false, false, false, true, true}), "8180");
  EXPECT_EQ(have_hex({}), "");
  EXPECT_EQ(have_hex(std::vector<bool>(kMaxAnnouncedPieces)).size(), kMaxAnnouncedPieces / 4);
  EXPECT_EQ(have_hex(std::vector<bool>(kMaxAnnouncedPieces + 1)), "");
}

lt::announce_entry tracker(bool started, bool updating, lt::time_point next) {
  lt::announce_entry t("http://t:1/announce");
  t.endpoints.emplace_back();
  auto& ih = t.endpoints.back().info_hashes[lt::protocol_version::V2];
  ih.start_sent = started;
  ih.updating = updating;
  ih.next_announce = std::chrono::time_point_cast<lt::seconds32>(next);
  // The v1 slot of a v2-only torrent: never started, its next_announce the minimum.
  return t;
}

TEST(AnnounceBits, DueOnlyWhenLibtorrentsOwnAnnounceIs) {
  const lt::time_point now = lt::clock_type::now();
  using std::chrono::seconds;
  EXPECT_TRUE(announce_due({tracker(true, false, now)}, now));
  EXPECT_TRUE(announce_due({tracker(true, false, now + seconds(1))}, now));
  EXPECT_FALSE(announce_due({tracker(true, false, now + seconds(4))}, now));
  EXPECT_FALSE(announce_due({tracker(false, false, now)}, now)) << "not started yet";
  EXPECT_FALSE(announce_due({tracker(true, true, now)}, now)) << "an announce in flight";
  EXPECT_FALSE(announce_due({}, now));
}

TEST(AnnounceBits, FailingTrackersGoLastSoARewriteStartsWithOneThatWorks) {
  const lt::time_point now = lt::clock_type::now();
  std::vector<lt::announce_entry> list;
  for (const char* name : {"a", "b", "c", "d"}) {
    list.push_back(tracker(true, false, now));
    list.back().url = name;
  }
  list[0].endpoints[0].info_hashes[lt::protocol_version::V2].fails = 3;  // a is down
  list[2].endpoints[0].info_hashes[lt::protocol_version::V1].fails = 1;  // so is c
  failing_last(list);
  std::vector<std::string> order;
  for (const auto& t : list) order.push_back(t.url);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "d", "a", "c"}));
}

}  // namespace
}  // namespace shoal::peer
