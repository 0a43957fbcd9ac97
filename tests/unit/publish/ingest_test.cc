#include "publish/ingest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "core/file_io.h"
#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::publish {
namespace {

namespace fs = std::filesystem;

// Remembers which files were put, in order; a blob is the file's bytes.
class MemorySink : public BlobSink {
 public:
  Result<hls::BlobRef> put_file(const std::string& path) override {
    auto bytes = read_small_file(path, 1 << 20);
    if (!bytes) return bytes.error();
    puts.push_back(fs::path(path).lexically_relative(root).string());
    return hls::BlobRef{Sha256::of(bytes->data(), bytes->size()), bytes->size()};
  }
  fs::path root;
  std::vector<std::string> puts;
};

class Ingest : public ::testing::Test {
 protected:
  Ingest() { sink_.root = dir_.path(); }

  void write(const std::string& rel, const std::string& text) {
    fs::path p = dir_.path() / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

  // ffmpeg's layout: master.m3u8 and v0/, v1/ with an init segment and two segments.
  void write_package(const std::string& master) {
    write("master.m3u8", master);
    for (const std::string v : {"v0", "v1"}) {
      write(v + "/index.m3u8",
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000000,\nseg00000.m4s\n"
            "#EXTINF:4.600000,\nseg00001.m4s\n#EXT-X-ENDLIST\n");
      write(v + "/init.mp4", "init of " + v);
      write(v + "/seg00000.m4s", std::string(1000, 'a'));
      write(v + "/seg00001.m4s", std::string(3000, 'b'));
    }
  }

  std::string dir() const { return dir_.path().string(); }

  // A probe that says what a segment holds and counts how often it was asked.
  SegmentProbe counting_probe() {
    return [this](const std::optional<std::string>&, const std::string&) -> Result<StreamInfo> {
      ++probes_;
      return StreamInfo{640, 360, 25, "avc1.64001e,mp4a.40.2"};
    };
  }

  test::TempDir dir_;
  MemorySink sink_;
  int probes_ = 0;
};

constexpr const char* kFullMaster =
    "#EXTM3U\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,FRAME-RATE=30,"
    "CODECS=\"avc1.64001f,mp4a.40.2\"\nv0/index.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,FRAME-RATE=30,"
    "CODECS=\"avc1.4d401e,mp4a.40.2\"\nv1/index.m3u8\n";

TEST_F(Ingest, UploadsEveryInitAndSegmentAndDescribesEachRendition) {
  write_package(kFullMaster);
  IngestHints hints;
  hints.probe = counting_probe();
  auto p = ingest(dir(), sink_, hints);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(sink_.puts,
            (std::vector<std::string>{"v0/init.mp4", "v0/seg00000.m4s", "v0/seg00001.m4s",
                                      "v1/init.mp4", "v1/seg00000.m4s", "v1/seg00001.m4s"}));
  EXPECT_EQ(probes_, 0);  // the multivariant playlist said everything
  EXPECT_EQ(p->kind, hls::Kind::vod);
  EXPECT_TRUE(p->ended);
  EXPECT_EQ(p->format, hls::SegmentFormat::fmp4);
  EXPECT_EQ(p->target_duration, 5u);  // 4.6 s rounds up past the declared 4
  ASSERT_EQ(p->renditions.size(), 2u);
  const auto& r = p->renditions[0];
  EXPECT_EQ(r.name, "v0");
  EXPECT_EQ(r.width, 1280u);
  EXPECT_EQ(r.codecs, "avc1.64001f,mp4a.40.2");
  ASSERT_TRUE(r.init);
  EXPECT_EQ(r.init->size, 10u);  // "init of v0"
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_EQ(r.segments[1].blob.size, 3000u);
  EXPECT_DOUBLE_EQ(r.segments[1].duration, 4.6);
  // Measured from the segments, not the 3000000 the playlist claims.
  EXPECT_EQ(r.bandwidth, 5218u);  // 3000 bytes in 4.6 s, rounded up
  EXPECT_EQ(p->renditions[1].name, "v1");
}

TEST_F(Ingest, ProbesOnlyWhatThePlaylistLeavesOutAndUsesGivenNames) {
  write_package(
      "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1\nv1/index.m3u8\n");
  IngestHints hints;
  hints.probe = counting_probe();
  hints.names = {"720p", "360p"};
  hints.frame_rate = 29.97;
  auto p = ingest(dir(), sink_, hints);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(probes_, 2);
  EXPECT_EQ(p->renditions[0].name, "720p");
  EXPECT_EQ(p->renditions[0].width, 640u);
  EXPECT_DOUBLE_EQ(p->renditions[0].frame_rate, 29.97);  // the hint beats the probe
  EXPECT_EQ(p->renditions[1].codecs, "avc1.64001e,mp4a.40.2");
}

TEST_F(Ingest, WithoutFfprobeThePackageIsStillMade) {
  write_package("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/index.m3u8\n");
  IngestHints hints;
  hints.probe = [](const std::optional<std::string>&, const std::string&) -> Result<StreamInfo> {
    return Error(Errc::not_found, "ffprobe not found on PATH");
  };
  auto p = ingest(dir(), sink_, hints);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->renditions[0].width, 0u);
  EXPECT_EQ(p->renditions[0].codecs, "");
}

TEST_F(Ingest, ALoneMediaPlaylistIsOneRendition) {
  write("only.m3u8",
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXTINF:6,\nsegs/a.ts\n#EXTINF:5.5,\nsegs/b.ts?x=1\n");
  write("segs/a.ts", "aaaa");
  write("segs/b.ts", "bb");
  IngestHints hints;
  hints.probe = counting_probe();
  auto p = ingest(dir(), sink_, hints);  // the directory's only playlist
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(sink_.puts, (std::vector<std::string>{"segs/a.ts", "segs/b.ts"}));
  EXPECT_EQ(p->format, hls::SegmentFormat::ts);
  ASSERT_EQ(p->renditions.size(), 1u);
  EXPECT_EQ(p->renditions[0].name, "v0");
  EXPECT_EQ(p->renditions[0].media_sequence, 7u);
  EXPECT_FALSE(p->renditions[0].init);
  EXPECT_EQ(p->target_duration, 6u);
}

TEST_F(Ingest, AMissingSegmentNamesThePlaylistThatListsIt) {
  write_package(kFullMaster);
  fs::remove(dir_.path() / "v1/seg00001.m4s");
  IngestHints hints;
  hints.probe = counting_probe();
  auto p = ingest(dir(), sink_, hints);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("listed in " + dir() + "/v1/index.m3u8"), std::string::npos)
      << p.error().message;
}

TEST_F(Ingest, StopsWhenCancelled) {
  write_package(kFullMaster);
  IngestHints hints;
  hints.probe = counting_probe();
  hints.cancelled = [this] { return sink_.puts.size() >= 2; };
  auto p = ingest(dir(), sink_, hints);
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().is(Errc::cancelled));
  EXPECT_EQ(sink_.puts.size(), 2u);
}

TEST_F(Ingest, RefusesDirectoriesItCannotChooseFrom) {
  IngestHints hints;
  hints.probe = counting_probe();
  EXPECT_FALSE(ingest(dir(), sink_, hints));  // no playlist at all
  write("a.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n");
  write("b.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nb.ts\n");
  auto p = ingest(dir(), sink_, hints);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("several media playlists"), std::string::npos);
  EXPECT_TRUE(ingest(dir() + "/missing", sink_, hints).error().is(Errc::not_found));
}

TEST_F(Ingest, FindsTheOneMultivariantPlaylistWithoutMasterM3u8) {
  write("stream.m3u8", kFullMaster);
  write("v0/index.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n");
  auto v = find_variants(dir());
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].playlist_path, dir() + "/v0/index.m3u8");
  EXPECT_EQ((*v)[1].entry.height, 360u);
}

TEST(IngestNames, RenditionNamesAreMadeValid) {
  EXPECT_EQ(normalise_rendition_name("v0"), "v0");
  EXPECT_EQ(normalise_rendition_name("Video 1080"), "video-1080");
  EXPECT_EQ(normalise_rendition_name("--Hi!!there--"), "hi-there");
  EXPECT_EQ(normalise_rendition_name("..."), "");
  EXPECT_EQ(normalise_rendition_name(std::string(40, 'a')).size(), 32u);
}

TEST(IngestUris, SegmentUrisAreFilesBesideThePlaylist) {
  EXPECT_EQ(*resolve_uri("/d/v0/index.m3u8", "seg1.m4s?t=1"), "/d/v0/seg1.m4s");
  EXPECT_EQ(*resolve_uri("/d/v0/index.m3u8", "../shared/init.mp4"), "/d/shared/init.mp4");
  EXPECT_EQ(*resolve_uri("/d/v0/index.m3u8", "/abs/a.ts"), "/abs/a.ts");
  EXPECT_FALSE(resolve_uri("/d/index.m3u8", "https://cdn.example/a.ts"));
  EXPECT_FALSE(resolve_uri("/d/index.m3u8", "data:text/plain,x"));
}

TEST(IngestTargetDuration, IsTheLargestOfTheDeclaredAndEveryRoundedSegment) {
  hls::BlobRef blob{Sha256::of("x", 1), 1};
  std::vector<hls::Segment> segs = {{4.4, blob}, {6.5, blob}};
  EXPECT_EQ(target_duration(4, segs), 7u);
  EXPECT_EQ(target_duration(9, segs), 9u);
  EXPECT_EQ(target_duration(0, {}), 0u);
}

}  // namespace
}  // namespace shoal::publish
