// The announce extension shoal_have and what the tracker does with it: parsing and
// bounds, the check against a known piece count, bitfield arithmetic, the piece-aware
// hand-out order, and the metainfo cache's info-hash index.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tracker/announce.h"
#include "tracker/handout.h"
#include "tracker/have_bits.h"
#include "tracker/metainfo_cache.h"

namespace shoal::tracker {
namespace {

const std::string kBase =
    "info_hash=%12%34%56%78%9a%bc%de%f1%23%45%67%89%ab%cd%ef%12%34%56%78%9a"
    "&peer_id=-SHP0100-abcdefghijk&port=6881&left=100";

std::string error_of(const std::string& query) {
  auto r = parse_announce(query);
  if (r.ok()) return "ok";
  EXPECT_TRUE(r.error().is(Errc::bad_request));
  return r.error().message;
}

TEST(ShoalHave, AbsentMeansNoBitfield) {
  auto r = parse_announce(kBase);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->have.empty());
}

TEST(ShoalHave, HexOfEitherCaseDecodesToRawBytes) {
  auto r = parse_announce(kBase + "&shoal_have=80fFc0");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->have, std::string("\x80\xff\xc0", 3));
}

TEST(ShoalHave, BadEncodingsNameTheField) {
  EXPECT_EQ(error_of(kBase + "&shoal_have="),
            "invalid shoal_have: expected hex digits, two per byte of the bitfield");
  EXPECT_EQ(error_of(kBase + "&shoal_have=abc"),
            "invalid shoal_have: expected hex digits, two per byte of the bitfield");
  EXPECT_EQ(error_of(kBase + "&shoal_have=zz"), "invalid shoal_have: not a hex digit");
  // Hex digits need no escaping: an escaped one is not taken for a digit.
  EXPECT_EQ(error_of(kBase + "&shoal_have=%41%41"), "invalid shoal_have: not a hex digit");
}

TEST(ShoalHave, BoundedToTheLargestShoalBlob) {
  const size_t max_digits = kMaxHavePieces / 4;
  EXPECT_EQ(error_of(kBase + "&shoal_have=" + std::string(max_digits, 'f')), "ok");
  EXPECT_EQ(error_of(kBase + "&shoal_have=" + std::string(max_digits + 2, 'f')),
            "invalid shoal_have: over 262144 pieces (65536 hex digits)");
}

TEST(ShoalHave, CheckedAgainstAKnownPieceCount) {
  EXPECT_TRUE(check_have(std::string("\xff\xc0", 2), 10).ok());
  EXPECT_TRUE(check_have(std::string("\xff", 1), 8).ok());
  EXPECT_EQ(check_have(std::string("\xff", 1), 10).error().message,
            "invalid shoal_have: expected 4 hex digits for 10 pieces, got 2");
  EXPECT_EQ(check_have(std::string("\xff\xc0\x00", 3), 10).error().message,
            "invalid shoal_have: expected 4 hex digits for 10 pieces, got 6");
  EXPECT_EQ(check_have(std::string("\xff\xe0", 2), 10).error().message,
            "invalid shoal_have: a bit is set past the last piece (10 pieces)");
  EXPECT_FALSE(check_have(std::string("\x01", 1), 7).ok());
}

TEST(HaveBits, CountsAndComplements) {
  EXPECT_EQ(count_pieces(std::string("\xf0\x01", 2)), 5u);
  // peer & ~asker: the peer's pieces the asker lacks.
  EXPECT_EQ(count_useful(std::string("\xf0\x0f", 2), std::string("\xc0\x0f", 2)), 2u);
  EXPECT_EQ(count_useful(std::string("\xff", 1), std::string("\xff\x00", 2)), 0u);
  EXPECT_EQ(full_have(10), std::string("\xff\xc0", 2));
  EXPECT_EQ(full_have(16), std::string("\xff\xff", 2));
  EXPECT_EQ(full_have(1), std::string("\x80", 1));
}

std::string id(const std::string& name) {
  std::string s = name;
  s.resize(20, '.');
  return s;
}

PeerEntry peer(const std::string& name, bool complete, std::string have) {
  PeerEntry p;
  p.peer_id = id(name);
  p.ipv4 = std::string("\x7f\x00\x00\x01", 4);
  p.port = 6881;
  p.complete = complete;
  p.is_origin = is_origin_peer_id(p.peer_id);
  p.have = std::move(have);
  return p;
}

std::vector<std::string> names(const std::vector<PeerEntry>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.peer_id.substr(0, p.peer_id.find('.')));
  return out;
}

// 16 pieces; the asker holds pieces 0-7 (0xff00).
const std::string kAsker("\xff\x00", 2);

std::vector<PeerEntry> mixed_swarm() {
  return {
      peer("-SHP-same", false, std::string("\xff\x00", 2)),    // 0 useful
      peer("-SHP-two", false, std::string("\x00\xc0", 2)),     // 2 useful
      peer("-SHP-six", false, std::string("\xff\xfc", 2)),     // 6 useful
      peer("-SHO-origin", true, ""),                          // complete: all
      peer("-SHP-seed", true, ""),                            // complete: all
      peer("-SHP-client", false, ""),                         // no bitfield: 0
  };
}

TEST(PieceAwareHandout, MostUsefulFirstThenCompletenessOrder) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    HandoutRng rng(seed);
    auto out = HandoutPolicy::select(mixed_swarm(), "nobody", 50, rng, kAsker);
    ASSERT_EQ(out.size(), 6u);
    // Complete peers hold every piece the asker lacks: seeder before origin (Kraken's
    // order breaks the tie), then leechers by useful pieces; the two with none are
    // tied (both leechers) and come out in either order.
    std::vector<std::string> got = names(out);
    EXPECT_EQ(std::vector<std::string>(got.begin(), got.begin() + 4),
              (std::vector<std::string>{"-SHP-seed", "-SHO-origin", "-SHP-six", "-SHP-two"}));
    std::set<std::string> tail(got.begin() + 4, got.end());
    EXPECT_EQ(tail, (std::set<std::string>{"-SHP-same", "-SHP-client"}));
  }
}

TEST(PieceAwareHandout, NumwantTakesTheBestAndSkipsTheAsker) {
  HandoutRng rng(3);
  auto out = HandoutPolicy::select(mixed_swarm(), id("-SHP-seed"), 3, rng, kAsker);
  EXPECT_EQ(names(out), (std::vector<std::string>{"-SHO-origin", "-SHP-six", "-SHP-two"}));
}

TEST(PieceAwareHandout, AUsefulLeecherOutranksAnIdleSeederOnlyWhenTied) {
  // A leecher holding all the asker lacks ties with complete peers on count only if it
  // is the complete peer's equal; completeness then decides: seeders lead.
  HandoutRng rng(5);
  std::vector<PeerEntry> s{peer("-SHP-full", false, std::string("\x00\xff", 2)),
                           peer("-SHP-seed", true, "")};
  EXPECT_EQ(names(HandoutPolicy::select(s, "x", 50, rng, kAsker)),
            (std::vector<std::string>{"-SHP-seed", "-SHP-full"}));
}

TEST(PieceAwareHandout, TiesAreRandom) {
  std::vector<PeerEntry> s;
  for (int i = 0; i < 6; ++i) s.push_back(peer("-SHP-p" + std::to_string(i), false, kAsker));
  std::set<std::string> first;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    HandoutRng rng(seed);
    first.insert(names(HandoutPolicy::select(s, "x", 1, rng, std::string("\x00\x00", 2)))[0]);
  }
  EXPECT_EQ(first.size(), 6u) << "each of the tied peers must sometimes come first";
}

TEST(PieceAwareHandout, WithoutTheAskersBitfieldTodaysOrder) {
  HandoutRng rng(1);
  auto out = HandoutPolicy::select(mixed_swarm(), "nobody", 50, rng);
  std::vector<int> classes;
  for (const auto& p : out) classes.push_back(HandoutPolicy::priority(p));
  EXPECT_EQ(classes, (std::vector<int>{0, 1, 2, 2, 2, 2}));
}

TEST(MetainfoCacheIndex, PieceCountsByInfoHashFollowEviction) {
  MetainfoCache cache(100);
  cache.put("a", std::string(30, 'x'), SwarmKey{std::string(20, 'A'), 10});
  cache.put("b", std::string(30, 'y'));  // metainfo the tracker could not read: no key
  EXPECT_EQ(cache.pieces_of(std::string(20, 'A')), 10u);
  EXPECT_FALSE(cache.key_of("b").has_value());
  cache.put("c", std::string(30, 'z'));
  cache.put("d", std::string(30, 'w'));  // over the budget: evicts a, the oldest
  EXPECT_FALSE(cache.get("a").has_value());
  EXPECT_FALSE(cache.key_of("a").has_value());
  EXPECT_FALSE(cache.pieces_of(std::string(20, 'A')).has_value());
  cache.put("e", std::string(5, 'v'), SwarmKey{std::string(20, 'E'), 3});
  EXPECT_EQ(cache.key_of("e")->info_hash, std::string(20, 'E'));
}

}  // namespace
}  // namespace shoal::tracker
