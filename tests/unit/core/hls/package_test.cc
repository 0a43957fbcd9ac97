#include "core/hls/package.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal::hls {
namespace {

Digest digest_of(const std::string& s) { return Sha256::of(s.data(), s.size()); }

Package sample() {
  Package p;
  p.name = "demo";
  p.target_duration = 4;
  p.source = digest_of("source");
  p.ladder = "720p:2800k/128k;4s";
  Rendition r;
  r.name = "720p";
  r.width = 1280;
  r.height = 720;
  r.frame_rate = 30;
  r.codecs = "avc1.64001f,mp4a.40.2";
  r.bandwidth = 3000000;
  r.average_bandwidth = 2500000;
  r.init = BlobRef{digest_of("init"), 900};
  r.segments = {{4.0, {digest_of("s0"), 1500000}}, {3.5, {digest_of("s1"), 1000000}}};
  p.renditions.push_back(r);
  return p;
}

TEST(HlsPackage, CanonicalJson) {
  Package p = sample();
  p.source.reset();
  p.ladder.clear();
  p.renditions[0].segments.pop_back();
  std::string expected =
      R"({"schema":"shoal.hls.v1","name":"demo","kind":"vod","segment_format":"fmp4",)"
      R"("target_duration":4,"ended":true,"renditions":[{"name":"720p","width":1280,)"
      R"("height":720,"frame_rate":30.000,"codecs":"avc1.64001f,mp4a.40.2",)"
      R"("bandwidth":3000000,"average_bandwidth":2500000,"init":{"digest":")" +
      digest_of("init").str() + R"(","size":900},"media_sequence":0,"segments":[)" +
      R"({"duration":4.000,"digest":")" + digest_of("s0").str() + R"(","size":1500000}]}]})";
  EXPECT_EQ(to_json(p), expected);
}

TEST(HlsPackage, RoundTrips) {
  Package p = sample();
  std::string text = to_json(p);
  auto back = parse_package(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_json(*back), text);
  EXPECT_EQ(back->source, p.source);
  EXPECT_EQ(back->ladder, p.ladder);
  EXPECT_EQ(back->renditions[0].segments[1].blob.digest, p.renditions[0].segments[1].blob.digest);
  EXPECT_DOUBLE_EQ(back->renditions[0].segments[1].duration, 3.5);

  p.kind = Kind::live;
  p.ended = false;
  p.format = SegmentFormat::ts;
  p.renditions[0].init.reset();
  p.renditions[0].media_sequence = 12;
  auto live = parse_package(to_json(p));
  ASSERT_TRUE(live) << live.error().message;
  EXPECT_EQ(live->kind, Kind::live);
  EXPECT_FALSE(live->ended);
  EXPECT_EQ(live->renditions[0].media_sequence, 12u);
  EXPECT_EQ(to_json(*live), to_json(p));
}

TEST(HlsPackage, RefusesMalformedOrInconsistent) {
  auto refuse = [](const std::string& text) {
    auto p = parse_package(text);
    EXPECT_FALSE(p) << text;
    if (!p) {
      EXPECT_TRUE(p.error().is(Errc::bad_request));
    }
  };
  std::string good = to_json(sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  refuse("not json");
  refuse("[]");
  refuse(with("shoal.hls.v1", "shoal.hls.v9"));
  refuse(with(R"("kind":"vod")", R"("kind":"film")"));
  refuse(with(R"("segment_format":"fmp4")", R"("segment_format":"ts")"));  // ts with an init
  refuse(with(R"("ended":true)", R"("ended":false)"));                    // VOD never runs
  refuse(with(R"("name":"demo")", R"("name":"../x")"));
  refuse(with(R"("name":"720p")", R"("name":"720P")"));
  refuse(with(R"("target_duration":4)", R"("target_duration":3)"));  // a 4 s segment
  refuse(with(R"("target_duration":4)", R"("target_duration":0)"));
  refuse(with(R"("duration":3.500)", R"("duration":-1)"));
  refuse(with(R"("size":900)", R"("size":-900)"));
  refuse(with(digest_of("s1").str(), "sha256:nothex"));
  refuse(with(R"("renditions":[)", R"("renditions":[],"x":[)"));
  Package twice = sample();
  twice.renditions.push_back(twice.renditions[0]);
  refuse(to_json(twice));
  Package no_init = sample();
  no_init.renditions[0].init.reset();
  refuse(to_json(no_init));
}

TEST(HlsPackage, MeasuresPeakAndAverage) {
  std::vector<Segment> s = {{2.0, {digest_of("a"), 250000}}, {4.0, {digest_of("b"), 250000}}};
  Bandwidth b = measure(s);
  EXPECT_EQ(b.peak, 1000000u);    // 250 000 bytes in 2 s
  EXPECT_EQ(b.average, 666667u);  // 4 Mbit in 6 s, rounded up
  EXPECT_EQ(measure({}).peak, 0u);
  EXPECT_EQ(measure({}).average, 0u);
}

TEST(HlsPackage, SegmentUris) {
  Segment s{4.0, {digest_of("seg"), 10}};
  EXPECT_EQ(segment_uri(s, SegmentFormat::fmp4), digest_of("seg").hex() + ".m4s");
  EXPECT_EQ(segment_uri(s, SegmentFormat::ts), digest_of("seg").hex() + ".ts");
  EXPECT_EQ(init_uri(s.blob), digest_of("seg").hex() + ".mp4");
  for (std::string ext : {".m4s", ".ts", ".mp4"}) {
    auto d = digest_of_uri(digest_of("seg").hex() + ext);
    ASSERT_TRUE(d) << ext;
    EXPECT_EQ(*d, digest_of("seg"));
  }
  EXPECT_FALSE(digest_of_uri(digest_of("seg").hex() + ".mkv"));
  EXPECT_FALSE(digest_of_uri(digest_of("seg").hex()));
  EXPECT_FALSE(digest_of_uri("seg0.m4s"));
  std::string upper = digest_of("seg").hex();
  upper[0] = 'A';
  EXPECT_FALSE(digest_of_uri(upper + ".m4s"));
}

TEST(HlsPackage, RenditionNames) {
  EXPECT_TRUE(valid_rendition_name("720p"));
  EXPECT_TRUE(valid_rendition_name("v0"));
  EXPECT_TRUE(valid_rendition_name("audio_en-1"));
  EXPECT_FALSE(valid_rendition_name(""));
  EXPECT_FALSE(valid_rendition_name("_x"));
  EXPECT_FALSE(valid_rendition_name("A"));
  EXPECT_FALSE(valid_rendition_name("a/b"));
  EXPECT_FALSE(valid_rendition_name(std::string(33, 'a')));
}

}  // namespace
}  // namespace shoal::hls
