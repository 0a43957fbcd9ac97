#include "core/torrent/announce_list.h"

#include <gtest/gtest.h>

#include <random>

#include <libtorrent/announce_entry.hpp>
#include <libtorrent/torrent_info.hpp>

#include "core/sha256.h"
#include "core/torrent/metainfo.h"

namespace shoal {
namespace {

namespace lt = libtorrent;

const std::vector<std::string> kTwo = {"http://127.0.0.1:4200/announce",
                                       "http://tracker-b.example:4200/announce"};

// A hybrid (v1+v2) metainfo of `size` random bytes, as the origin makes it.
Metainfo hybrid(size_t size, const MetainfoOptions& options = {}) {
  std::mt19937 rng(7);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  MetainfoBuilder b(data.size(), 0);
  b.update(data.data(), data.size());
  auto m = b.finish(Sha256::of(data.data(), data.size()), options);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(*m) : Metainfo{};
}

lt::torrent_info load(const std::string& bencoded) {
  return lt::torrent_info(
      lt::span<const char>(bencoded.data(), static_cast<std::ptrdiff_t>(bencoded.size())),
      lt::from_span);
}

std::string with(const std::string& metainfo, const std::vector<std::string>& urls) {
  auto out = with_announce_list(metainfo, urls);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
  return out.ok() ? *out : std::string();
}

TEST(AnnounceList, TheInfoHashesAreTheSameWithAndWithoutTrackers) {
  const Metainfo plain = hybrid(700 * 1024);
  const std::string announced = with(plain.bencoded, kTwo);
  ASSERT_NE(announced, plain.bencoded);
  auto parsed = parse_and_bind(announced, plain.digest, plain.size);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->info_hash, plain.info_hash);
  EXPECT_EQ(parsed->announced_hash, plain.announced_hash);
  const lt::info_hash_t before = load(plain.bencoded).info_hashes();
  const lt::info_hash_t after = load(announced).info_hashes();
  EXPECT_TRUE(before.has_v1() && before.has_v2()) << "the origin's metainfo is hybrid";
  EXPECT_EQ(after.v1, before.v1);
  EXPECT_EQ(after.v2, before.v2);
  // The builder's own option gives the same bytes.
  MetainfoOptions options;
  options.trackers = kTwo;
  EXPECT_EQ(hybrid(700 * 1024, options).bencoded, announced);
}

TEST(AnnounceList, AnnounceIsTheFirstTrackerAndTheListIsOneTier) {
  const std::string announced = with(hybrid(300 * 1024).bencoded, kTwo);
  const std::string expect =
      "8:announce30:http://127.0.0.1:4200/announce"
      "13:announce-listll30:http://127.0.0.1:4200/announce"
      "38:http://tracker-b.example:4200/announceee";
  // Bencoding sorts keys: announce and announce-list come before "created by" and info.
  ASSERT_TRUE(announced.starts_with("d" + expect + "10:created by")) << announced.substr(0, 200);
  const lt::torrent_info ti = load(announced);
  ASSERT_EQ(ti.trackers().size(), 2u);
  for (const lt::announce_entry& ae : ti.trackers()) EXPECT_EQ(ae.tier, 0);
}

TEST(AnnounceList, AnEmptyListRemovesTheTrackersAndGivesBackTheOriginalBytes) {
  const std::string plain = hybrid(300 * 1024).bencoded;
  EXPECT_EQ(with(plain, {}), plain);
  EXPECT_EQ(with(with(plain, kTwo), {}), plain);
}

TEST(AnnounceList, ANewListReplacesTheOldOne) {
  const std::string plain = hybrid(300 * 1024).bencoded;
  const std::vector<std::string> one = {"http://127.0.0.1:9/announce"};
  EXPECT_EQ(with(with(plain, kTwo), one), with(plain, one));
  const lt::torrent_info ti = load(with(with(plain, kTwo), one));
  ASSERT_EQ(ti.trackers().size(), 1u);
  EXPECT_EQ(ti.trackers()[0].url, one[0]);
}

TEST(AnnounceList, RejectsWhatIsNotAMetainfoWithoutCrashing) {
  for (std::string_view bad : {"", "i5e", "le", "de", "d4:infoi1ee", "d4:info", "x",
                               "d8:announce3:abce", "d4:infod4:name1:xee"}) {
    auto out = with_announce_list(bad, kTwo);
    if (bad == "d4:infod4:name1:xee") {
      // Not this function's business whether the info dict is complete.
      ASSERT_TRUE(out.ok());
      EXPECT_TRUE(out->ends_with("4:infod4:name1:xee"));
      continue;
    }
    ASSERT_FALSE(out.ok()) << bad;
    EXPECT_TRUE(out.error().is(Errc::protocol_error)) << bad;
  }
}

}  // namespace
}  // namespace shoal
