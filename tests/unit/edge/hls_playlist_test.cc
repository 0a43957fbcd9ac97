#include "edge/hls_playlist.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::hls {
namespace {

Digest digest_of(const std::string& s) { return Sha256::of(s.data(), s.size()); }

Rendition rendition(const std::string& name, uint32_t height, uint64_t bandwidth, int segments) {
  Rendition r;
  r.name = name;
  r.width = height * 16 / 9;
  r.height = height;
  r.frame_rate = 30;
  r.codecs = "avc1.64001f,mp4a.40.2";
  r.bandwidth = bandwidth;
  r.average_bandwidth = bandwidth * 3 / 4;
  r.init = BlobRef{digest_of(name + "init"), 800};
  for (int i = 0; i < segments; ++i) {
    r.segments.push_back(Segment{4.0, BlobRef{digest_of(name + std::to_string(i)), 1000}});
  }
  return r;
}

Package vod() {
  Package p;
  p.name = "demo";
  p.target_duration = 4;
  p.renditions = {rendition("720p", 720, 2'500'000, 2), rendition("360p", 360, 700'000, 2)};
  return p;
}

TEST(HlsPlaylist, MasterListsEveryRenditionWithItsAttributes) {
  std::string m = master_playlist(vod(), {});
  EXPECT_EQ(m,
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=1875000,"
            "CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000\n"
            "720p/index.m3u8\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=700000,AVERAGE-BANDWIDTH=525000,"
            "CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=30.000\n"
            "360p/index.m3u8\n");
}

TEST(HlsPlaylist, SameManifestSameBytes) {
  EXPECT_EQ(master_playlist(vod(), {}), master_playlist(vod(), {}));
  Package p = vod();
  EXPECT_EQ(media_playlist(p, p.renditions[0]), media_playlist(vod(), vod().renditions[0]));
}

TEST(HlsPlaylist, FiltersDropVariants) {
  std::string m = master_playlist(vod(), VariantFilter{480, std::nullopt});
  EXPECT_EQ(m.find("720p/index.m3u8"), std::string::npos);
  EXPECT_NE(m.find("360p/index.m3u8"), std::string::npos);
  m = master_playlist(vod(), VariantFilter{std::nullopt, 1'000'000});
  EXPECT_EQ(m.find("720p/index.m3u8"), std::string::npos);
  m = master_playlist(vod(), VariantFilter{2000, 3'000'000});
  EXPECT_NE(m.find("720p/index.m3u8"), std::string::npos);
  EXPECT_NE(m.find("360p/index.m3u8"), std::string::npos);
}

TEST(HlsPlaylist, FilterThatKeepsNothingLeavesTheLowestVariant) {
  std::string m = master_playlist(vod(), VariantFilter{100, std::nullopt});
  EXPECT_EQ(m.find("720p/index.m3u8"), std::string::npos);
  EXPECT_NE(m.find("360p/index.m3u8"), std::string::npos);
}

TEST(HlsPlaylist, VodMediaPlaylist) {
  Package p = vod();
  const Rendition& r = p.renditions[0];
  std::string expected =
      "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"" +
      r.init->digest.hex() + ".mp4\"\n";
  for (const auto& s : r.segments) expected += "#EXTINF:4.000,\n" + s.blob.digest.hex() + ".m4s\n";
  expected += "#EXT-X-ENDLIST\n";
  EXPECT_EQ(media_playlist(p, r), expected);
}

TEST(HlsPlaylist, LiveWindowHasNoTypeAndEndsOnlyWhenEnded) {
  Package p = vod();
  p.kind = Kind::live;
  p.ended = false;
  p.renditions[0].media_sequence = 17;
  std::string m = media_playlist(p, p.renditions[0]);
  EXPECT_EQ(m.find("PLAYLIST-TYPE"), std::string::npos);
  EXPECT_EQ(m.find("ENDLIST"), std::string::npos);
  EXPECT_NE(m.find("#EXT-X-MEDIA-SEQUENCE:17\n"), std::string::npos);
  p.ended = true;
  m = media_playlist(p, p.renditions[0]);
  EXPECT_EQ(m.find("PLAYLIST-TYPE"), std::string::npos);
  EXPECT_TRUE(m.ends_with("#EXT-X-ENDLIST\n"));
}

TEST(HlsPlaylist, TransportStreamHasNoMapAndVersion3) {
  Package p = vod();
  p.format = SegmentFormat::ts;
  for (auto& r : p.renditions) r.init.reset();
  std::string m = media_playlist(p, p.renditions[1]);
  EXPECT_EQ(m.find("EXT-X-MAP"), std::string::npos);
  EXPECT_NE(m.find("#EXT-X-VERSION:3\n"), std::string::npos);
  EXPECT_NE(m.find(p.renditions[1].segments[0].blob.digest.hex() + ".ts\n"), std::string::npos);
}

TEST(HlsPlaylist, FindRendition) {
  Package p = vod();
  ASSERT_NE(find_rendition(p, "360p"), nullptr);
  EXPECT_EQ(find_rendition(p, "360p")->height, 360u);
  EXPECT_EQ(find_rendition(p, "1080p"), nullptr);
}

}  // namespace
}  // namespace shoal::hls
