#include "publish/probe.h"

#include <gtest/gtest.h>

namespace shoal::publish {
namespace {

TEST(SourceProbe, ReadsTheFirstVideoStreamTheDurationAndAudio) {
  auto info = parse_source_probe(R"({
    "streams": [
      {"codec_type": "video", "width": 1920, "height": 1080,
       "avg_frame_rate": "30000/1001", "r_frame_rate": "30000/1001", "duration": "9.5"},
      {"codec_type": "audio", "codec_name": "aac"},
      {"codec_type": "video", "width": 640, "height": 360, "avg_frame_rate": "25/1"}
    ],
    "format": {"duration": "10.010000"}
  })");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->width, 1920u);
  EXPECT_EQ(info->height, 1080u);
  EXPECT_NEAR(info->frame_rate, 29.97, 0.001);
  EXPECT_DOUBLE_EQ(info->duration, 10.01);
  EXPECT_TRUE(info->has_audio);
}

TEST(SourceProbe, SkipsCoverPicturesAndFallsBackToTheRealFrameRate) {
  auto info = parse_source_probe(R"({"streams": [
      {"codec_type": "video", "width": 600, "height": 600, "avg_frame_rate": "0/0",
       "disposition": {"attached_pic": 1}},
      {"codec_type": "video", "width": 1280, "height": 720, "avg_frame_rate": "0/0",
       "r_frame_rate": "24/1", "duration": "3.5"}]})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->width, 1280u);
  EXPECT_DOUBLE_EQ(info->frame_rate, 24);
  EXPECT_DOUBLE_EQ(info->duration, 3.5);
  EXPECT_FALSE(info->has_audio);
}

TEST(SourceProbe, RefusesWhatIsNotAPlayableVideo) {
  EXPECT_TRUE(parse_source_probe("not json").error().is(Errc::protocol_error));
  EXPECT_TRUE(parse_source_probe("[1,2]").error().is(Errc::protocol_error));
  EXPECT_TRUE(parse_source_probe(R"({"streams": [{"codec_type": "audio"}]})")
                  .error()
                  .is(Errc::bad_request));
  EXPECT_FALSE(parse_source_probe(R"({"streams": [{"codec_type": "video", "width": 0,
      "height": 0, "avg_frame_rate": "25/1"}]})"));
  // 90000 is a timebase, not a frame rate.
  EXPECT_FALSE(parse_source_probe(R"({"streams": [{"codec_type": "video", "width": 64,
      "height": 64, "avg_frame_rate": "0/0", "r_frame_rate": "90000/1"}]})"));
  EXPECT_FALSE(parse_source_probe(R"({"streams": "x", "format": 3})"));
}

TEST(StreamProbe, NamesH264AndAacInRfc6381Form) {
  auto info = parse_stream_probe(R"({"streams": [
      {"codec_type": "video", "codec_name": "h264", "profile": "High", "level": 31,
       "width": 1280, "height": 720, "avg_frame_rate": "30/1"},
      {"codec_type": "audio", "codec_name": "aac", "profile": "LC"}]})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->width, 1280u);
  EXPECT_EQ(info->height, 720u);
  EXPECT_DOUBLE_EQ(info->frame_rate, 30);
  EXPECT_EQ(info->codecs, "avc1.64001f,mp4a.40.2");
}

TEST(StreamProbe, OtherProfilesAndCodecs) {
  auto codecs = [](const std::string& streams) {
    auto info = parse_stream_probe(R"({"streams": [)" + streams + "]}");
    return info ? info->codecs : "error: " + info.error().message;
  };
  EXPECT_EQ(codecs(R"({"codec_type":"video","codec_name":"h264","profile":"Main","level":30})"),
            "avc1.4d401e");
  EXPECT_EQ(codecs(R"({"codec_type":"video","codec_name":"h264",
                       "profile":"Constrained Baseline","level":21})"),
            "avc1.42e015");
  EXPECT_EQ(codecs(R"({"codec_type":"audio","codec_name":"aac","profile":"HE-AAC"})"), "mp4a.40.5");
  EXPECT_EQ(codecs(R"({"codec_type":"audio","codec_name":"mp3"})"), "mp4a.40.34");
  EXPECT_EQ(codecs(R"({"codec_type":"audio","codec_name":"eac3"})"), "ec-3");
}

TEST(StreamProbe, OneUnknownCodecLeavesCodecsEmpty) {
  auto info = parse_stream_probe(R"({"streams": [
      {"codec_type": "video", "codec_name": "hevc", "width": 640, "height": 360},
      {"codec_type": "audio", "codec_name": "aac", "profile": "LC"},
      {"codec_type": "data", "codec_name": "bin_data"}]})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->width, 640u);
  EXPECT_EQ(info->codecs, "");
  // An H.264 stream without a level is not named either: a wrong CODECS is worse.
  auto no_level = parse_stream_probe(
      R"({"streams": [{"codec_type": "video", "codec_name": "h264", "profile": "High"}]})");
  ASSERT_TRUE(no_level);
  EXPECT_EQ(no_level->codecs, "");
}

TEST(StreamProbe, RefusesOutputWithoutStreams) {
  EXPECT_FALSE(parse_stream_probe("{}"));
  EXPECT_FALSE(parse_stream_probe(R"({"streams": []})"));
  EXPECT_FALSE(parse_stream_probe("{"));
}

}  // namespace
}  // namespace shoal::publish
