#include "core/hls/m3u8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shoal::hls {
namespace {

// As ffmpeg 5.1's hlsenc writes them (-hls_segment_type fmp4 -var_stream_map).
constexpr std::string_view kFfmpegMaster =
    "#EXTM3U\n#EXT-X-VERSION:7\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=35200,RESOLUTION=320x180,CODECS=\"avc1.f4000d,mp4a.40.2\"\n"
    "v0/index.m3u8\n\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=35200,RESOLUTION=160x90,CODECS=\"avc1.f4000b,mp4a.40.2\"\n"
    "v1/index.m3u8\n\n";

constexpr std::string_view kFfmpegMedia =
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init_0.mp4\"\n"
    "#EXTINF:2.000000,\nseg0.m4s\n#EXTINF:2.000000,\nseg1.m4s\n#EXT-X-ENDLIST\n";

TEST(HlsM3u8, FfmpegMultivariant) {
  ASSERT_TRUE(is_multivariant(kFfmpegMaster));
  auto p = parse_multivariant(kFfmpegMaster);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->variants.size(), 2u);
  EXPECT_EQ(p->variants[0].uri, "v0/index.m3u8");
  EXPECT_EQ(p->variants[0].bandwidth, 35200u);
  EXPECT_EQ(p->variants[0].width, 320u);
  EXPECT_EQ(p->variants[0].height, 180u);
  EXPECT_EQ(p->variants[0].codecs, "avc1.f4000d,mp4a.40.2");
  EXPECT_EQ(p->variants[1].height, 90u);
  EXPECT_FALSE(p->independent_segments);
}

TEST(HlsM3u8, FfmpegMedia) {
  EXPECT_FALSE(is_multivariant(kFfmpegMedia));
  auto p = parse_media(kFfmpegMedia);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->target_duration, 2u);
  EXPECT_EQ(p->media_sequence, 0u);
  EXPECT_EQ(p->playlist_type, "VOD");
  EXPECT_TRUE(p->ended);
  ASSERT_TRUE(p->map_uri);
  EXPECT_EQ(*p->map_uri, "init_0.mp4");
  ASSERT_EQ(p->segments.size(), 2u);
  EXPECT_EQ(p->segments[1].uri, "seg1.m4s");
  EXPECT_DOUBLE_EQ(p->segments[1].duration, 2.0);
}

TEST(HlsM3u8, CrLfTransportStreamLive) {
  auto p = parse_media(
      "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-MEDIA-SEQUENCE:41\r\n"
      "#EXTINF:5.5,title\r\ns41.ts\r\n#EXTINF:6,\r\ns42.ts\r\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->media_sequence, 41u);
  EXPECT_FALSE(p->ended);
  EXPECT_FALSE(p->map_uri);
  ASSERT_EQ(p->segments.size(), 2u);
  EXPECT_DOUBLE_EQ(p->segments[0].duration, 5.5);
  EXPECT_EQ(p->segments[0].uri, "s41.ts");
}

TEST(HlsM3u8, AttributesWithQuotedCommasAndFrameRate) {
  auto p = parse_multivariant(
      "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
      "#EXT-X-STREAM-INF:CODECS=\"avc1.64001f,mp4a.40.2\",BANDWIDTH=900000,"
      "AVERAGE-BANDWIDTH=700000,FRAME-RATE=29.970,RESOLUTION=1280x720\nhd.m3u8\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->independent_segments);
  EXPECT_EQ(p->variants[0].codecs, "avc1.64001f,mp4a.40.2");
  EXPECT_EQ(p->variants[0].average_bandwidth, 700000u);
  EXPECT_DOUBLE_EQ(p->variants[0].frame_rate, 29.97);
}

TEST(HlsM3u8, RefusesWhatCannotBeRepublished) {
  const std::string head = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n";
  for (std::string body : {
           std::string("#EXT-X-BYTERANGE:100@0\n#EXTINF:4,\na.ts\n"),
           std::string("#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:4,\na.ts\n"),
           std::string("#EXTINF:4,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4,\nb.ts\n"),
           std::string("#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"10@0\"\n#EXTINF:4,\na.m4s\n"),
           std::string("#EXTINF:abc,\na.ts\n"),
           std::string("#EXTINF:4,\n"),
           std::string("a.ts\n"),
       }) {
    auto p = parse_media(head + body);
    EXPECT_FALSE(p) << body;
    if (!p) {
      EXPECT_TRUE(p.error().is(Errc::bad_request));
    }
  }
  EXPECT_FALSE(parse_media("#EXTINF:4,\na.ts\n"));               // no #EXTM3U
  EXPECT_FALSE(parse_media("#EXTM3U\n#EXTINF:4,\na.ts\n"));      // no TARGETDURATION
  EXPECT_TRUE(parse_media(head + "#EXT-X-KEY:METHOD=NONE\n#EXTINF:4,\na.ts\n"));
  EXPECT_FALSE(parse_multivariant("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n"));
  EXPECT_FALSE(parse_multivariant("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"));
  EXPECT_FALSE(parse_multivariant("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"x\na.m3u8\n"));
  EXPECT_FALSE(parse_multivariant(
      "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"a.m3u8\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"));
  EXPECT_FALSE(parse_multivariant("#EXTM3U\n"));
}

// What a parse of untrusted text must give: a playlist that keeps the parser's promises
// (checked by `valid`), or a bad_request error that says what was wrong.
template <class T, class Check>
::testing::AssertionResult parsed_or_refused(std::string_view text, const Result<T>& r,
                                             Check valid) {
  if (!r) {
    if (!r.error().is(Errc::bad_request)) {
      return ::testing::AssertionFailure() << "refused with " << r.error().code.message();
    }
    if (r.error().message.empty()) return ::testing::AssertionFailure() << "refused, no reason";
    return ::testing::AssertionSuccess();
  }
  if (!text.starts_with("#EXTM3U")) return ::testing::AssertionFailure() << "no #EXTM3U";
  return valid(*r);
}

// A URI the parser kept is one whole line of the input: not a tag, no line break,
// no trailing blank.
bool uri_line_of(std::string_view text, std::string_view uri) {
  return !uri.empty() && uri.front() != '#' && uri.find('\n') == std::string_view::npos &&
         uri.back() != '\r' && uri.back() != ' ' && uri.back() != '\t' &&
         text.find(uri) != std::string_view::npos;
}

::testing::AssertionResult valid_media(std::string_view text, const MediaPlaylist& p) {
  if (p.target_duration == 0) return ::testing::AssertionFailure() << "no target duration";
  for (const auto& seg : p.segments) {
    if (!uri_line_of(text, seg.uri)) {
      return ::testing::AssertionFailure() << "segment URI \"" << seg.uri << "\"";
    }
    if (!std::isfinite(seg.duration) || seg.duration < 0) {
      return ::testing::AssertionFailure() << "segment duration " << seg.duration;
    }
  }
  if (!p.playlist_type.empty() && text.find(p.playlist_type) == std::string_view::npos) {
    return ::testing::AssertionFailure() << "playlist type \"" << p.playlist_type << "\"";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult valid_multivariant(std::string_view text,
                                              const MultivariantPlaylist& p) {
  if (p.variants.empty()) return ::testing::AssertionFailure() << "no variants";
  for (const auto& v : p.variants) {
    if (!uri_line_of(text, v.uri)) {
      return ::testing::AssertionFailure() << "variant URI \"" << v.uri << "\"";
    }
    if (!std::isfinite(v.frame_rate) || v.frame_rate < 0) {
      return ::testing::AssertionFailure() << "frame rate " << v.frame_rate;
    }
  }
  return ::testing::AssertionSuccess();
}

// Truncations and byte flips of real playlists: each gives a playlist that keeps the
// invariants or an error with a reason, and both outcomes occur (the mangling reaches
// past the first line).
TEST(HlsM3u8, MangledInputGivesAValidPlaylistOrAReason) {
  std::mt19937 rng(7);
  for (std::string_view base : {kFfmpegMaster, kFfmpegMedia}) {
    int parsed = 0, refused = 0;
    auto check = [&](std::string_view text) {
      auto media = parse_media(text);
      EXPECT_TRUE(parsed_or_refused(text, media, [&](auto& p) { return valid_media(text, p); }))
          << testing::PrintToString(std::string(text));
      auto multi = parse_multivariant(text);
      EXPECT_TRUE(parsed_or_refused(text, multi,
                                    [&](auto& p) { return valid_multivariant(text, p); }))
          << testing::PrintToString(std::string(text));
      (base == kFfmpegMedia ? media.ok() : multi.ok()) ? ++parsed : ++refused;
    };
    for (size_t cut = 0; cut <= base.size(); ++cut) check(base.substr(0, cut));
    for (int i = 0; i < 2000; ++i) {
      std::string s(base);
      s[rng() % s.size()] = static_cast<char>(rng());
      check(s);
    }
    EXPECT_GT(parsed, 0);
    EXPECT_GT(refused, 0);
  }
}

}  // namespace
}  // namespace shoal::hls
