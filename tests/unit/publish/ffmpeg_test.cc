#include "publish/ffmpeg.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shoal::publish {
namespace {

TranscodeJob two_rung_job() {
  TranscodeJob job;
  job.inputs = file_inputs("in.mp4", false);
  job.audio_map = "0:a:0";
  job.source = SourceInfo{1920, 1080, 25, 12, true};
  job.rungs = {{"720p", 720, 2800, 128}, {"360p", 360, 800, 64}};
  job.segment_seconds = 4;
  job.out_dir = "/tmp/out";
  return job;
}

// The value after `flag`, "" when the flag is absent.
std::string after(const std::vector<std::string>& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
}

bool has(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

TEST(FfmpegArgs, OneDecodeSplitAndScaledPerRung) {
  auto a = ffmpeg_args(two_rung_job());
  EXPECT_EQ(a[0], "ffmpeg");
  EXPECT_EQ(after(a, "-i"), "in.mp4");
  EXPECT_EQ(after(a, "-filter_complex"),
            "[0:v:0]split=2[s0][s1];[s0]scale=-2:720[v0];[s1]scale=-2:360[v1]");
  EXPECT_EQ(after(a, "-var_stream_map"), "v:0,a:0 v:1,a:1");
  EXPECT_EQ(std::count(a.begin(), a.end(), "-map"), 4);
}

TEST(FfmpegArgs, KeyframesAreAlignedToSegmentBoundaries) {
  auto a = ffmpeg_args(two_rung_job());
  EXPECT_EQ(after(a, "-g"), "100");  // 25 fps x 4 s
  EXPECT_EQ(after(a, "-keyint_min"), "100");
  EXPECT_EQ(after(a, "-sc_threshold"), "0");
  EXPECT_EQ(after(a, "-force_key_frames"), "expr:gte(t,n_forced*4)");
  EXPECT_EQ(after(a, "-hls_time"), "4");
}

TEST(FfmpegArgs, EachRungGetsItsRatesAndProfile) {
  auto a = ffmpeg_args(two_rung_job());
  EXPECT_EQ(after(a, "-b:v:0"), "2800k");
  EXPECT_EQ(after(a, "-maxrate:v:0"), "2996k");
  EXPECT_EQ(after(a, "-bufsize:v:0"), "4200k");
  EXPECT_EQ(after(a, "-profile:v:0"), "main");
  EXPECT_EQ(after(a, "-b:v:1"), "800k");
  EXPECT_EQ(after(a, "-b:a:0"), "128k");
  EXPECT_EQ(after(a, "-b:a:1"), "64k");
}

TEST(FfmpegArgs, VodWritesFmp4IntoTheOutputDirectory) {
  auto a = ffmpeg_args(two_rung_job());
  EXPECT_EQ(after(a, "-hls_segment_type"), "fmp4");
  EXPECT_EQ(after(a, "-hls_playlist_type"), "vod");
  EXPECT_EQ(after(a, "-hls_segment_filename"), "/tmp/out/v%v/seg%05d.m4s");
  EXPECT_EQ(a.back(), "/tmp/out/v%v/index.m3u8");
  EXPECT_FALSE(has(a, "-progress"));
  EXPECT_FALSE(has(a, "-t"));
}

TEST(FfmpegArgs, LiveKeepsEverySegmentAndRenamesIntoPlace) {
  auto job = two_rung_job();
  job.live = true;
  job.duration = 30;
  job.progress = true;
  auto a = ffmpeg_args(job);
  EXPECT_EQ(after(a, "-hls_list_size"), "0");
  EXPECT_EQ(after(a, "-hls_flags"), "+independent_segments+temp_file");
  EXPECT_FALSE(has(a, "-hls_playlist_type"));
  EXPECT_EQ(after(a, "-t"), "30");
  EXPECT_EQ(after(a, "-progress"), "pipe:1");
}

TEST(FfmpegArgs, ASingleRungNeedsNoSplitAndNoAudioMeansNoAudioFlags) {
  auto job = two_rung_job();
  job.rungs.resize(1);
  job.audio_map.clear();
  auto a = ffmpeg_args(job);
  EXPECT_EQ(after(a, "-filter_complex"), "[0:v:0]scale=-2:720[v0]");
  EXPECT_EQ(after(a, "-var_stream_map"), "v:0");
  EXPECT_FALSE(has(a, "-c:a"));
  EXPECT_EQ(std::count(a.begin(), a.end(), "-map"), 1);
}

TEST(FfmpegArgs, TestsrcIsTwoRealTimeLavfiInputs) {
  auto in = testsrc_inputs();
  EXPECT_EQ(std::count(in.begin(), in.end(), "-re"), 2);
  EXPECT_EQ(std::count(in.begin(), in.end(), "lavfi"), 2);
  EXPECT_EQ(testsrc_info().height, 720u);
  EXPECT_EQ(file_inputs("a.mp4", true), (std::vector<std::string>{"-re", "-i", "a.mp4"}));
}

TEST(FfmpegArgs, ShellQuoteQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(shell_quote({"ffmpeg", "-i", "my file.mp4", "it's", ""}),
            "ffmpeg -i 'my file.mp4' 'it'\\''s' ''");
}

TEST(ProgressParser, ReadsTimeAndSpeedFromBlocksSplitAnywhere) {
  ProgressParser p;
  EXPECT_FALSE(p.out_time_us());
  p.feed("frame=10\nout_time_us=1500");
  EXPECT_FALSE(p.out_time_us());  // the line is not finished yet
  p.feed("000\r\nspeed=1.95x\nprogress=continue\n");
  EXPECT_EQ(p.out_time_us(), 1500000);
  ASSERT_TRUE(p.speed());
  EXPECT_DOUBLE_EQ(*p.speed(), 1.95);
  EXPECT_FALSE(p.ended());
  p.feed("out_time_us=3000000\nprogress=end\n");
  EXPECT_EQ(p.out_time_us(), 3000000);
  EXPECT_TRUE(p.ended());
}

TEST(ProgressParser, IgnoresValuesItCannotRead) {
  ProgressParser p;
  p.feed("out_time_us=2000000\nspeed=1x\n");
  p.feed("out_time_us=N/A\nout_time_us=-5\nout_time_us= 7\nspeed=N/A\nspeed=-1x\nno equals\n");
  EXPECT_EQ(p.out_time_us(), 2000000);
  EXPECT_DOUBLE_EQ(*p.speed(), 1.0);
}

}  // namespace
}  // namespace shoal::publish
