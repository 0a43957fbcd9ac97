#include "publish/ladder.h"

#include <gtest/gtest.h>

namespace shoal::publish {
namespace {

TEST(Ladder, KnownHeightsTakeTheBuiltInRatesTallestFirst) {
  auto l = parse_ladder("360p,1080p,720p");
  ASSERT_TRUE(l) << l.error().message;
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0], (Rung{"1080p", 1080, 5000, 128}));
  EXPECT_EQ((*l)[1], (Rung{"720p", 720, 2800, 128}));
  EXPECT_EQ((*l)[2], (Rung{"360p", 360, 800, 64}));
}

TEST(Ladder, ExplicitVideoAndAudioRatesOverrideTheDefaults) {
  auto l = parse_ladder("480p:1400k/96k, 720p:3000");
  ASSERT_TRUE(l) << l.error().message;
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0], (Rung{"720p", 720, 3000, 128}));
  EXPECT_EQ((*l)[1], (Rung{"480p", 480, 1400, 96}));
}

TEST(Ladder, UnknownHeightNeedsARate) {
  EXPECT_FALSE(parse_ladder("500p"));
  auto l = parse_ladder("500p:1200K");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ((*l)[0], (Rung{"500p", 500, 1200, 64}));
}

TEST(Ladder, SpacesAndEmptyItemsAreSkipped) {
  auto l = parse_ladder(" 720p ,\t,360p\r");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->size(), 2u);
}

TEST(Ladder, BadRungsAreRefusedWithTheRungNamed) {
  for (const char* bad : {"720", "p", "-720p", "+720p", "721p", "62p", "4322p", "720p:", "720p:0k",
                          "720p:abc", "720p:1400k/x", "720p:2000000k", "0x2Dp"}) {
    auto l = parse_ladder(bad);
    EXPECT_FALSE(l) << bad;
    if (!l) {
      EXPECT_TRUE(l.error().is(Errc::bad_request)) << bad;
    }
  }
  auto l = parse_ladder("720p:x");
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("\"720p:x\""), std::string::npos) << l.error().message;
}

TEST(Ladder, DuplicatesAndEmptySpecsAreRefused) {
  EXPECT_FALSE(parse_ladder("720p,720p:3000k"));
  EXPECT_FALSE(parse_ladder(""));
  EXPECT_FALSE(parse_ladder(" , ,"));
}

TEST(Ladder, StringNamesSegmentLengthAndEveryRate) {
  auto l = parse_ladder("1080p,720p,360p");
  ASSERT_TRUE(l);
  EXPECT_EQ(ladder_string(*l, 4),
            "h264+aac/fmp4 seg=4 1080p:5000k/128k,720p:2800k/128k,360p:800k/64k");
  EXPECT_EQ(ladder_string(*l, 2.5).substr(0, 23), "h264+aac/fmp4 seg=2.5 1");
}

TEST(Ladder, FitDropsRungsTallerThanTheSource) {
  auto l = parse_ladder("1080p,720p,360p");
  ASSERT_TRUE(l);
  auto fitted = fit_ladder(*l, {1280, 720});
  ASSERT_EQ(fitted.size(), 2u);
  EXPECT_EQ(fitted[0].name, "720p");
  EXPECT_EQ(fitted[1].name, "360p");
}

TEST(Ladder, ASourceSmallerThanEveryRungGetsOneRungAtItsOwnEvenHeight) {
  auto l = parse_ladder("720p,360p");
  ASSERT_TRUE(l);
  auto fitted = fit_ladder(*l, {320, 241});
  ASSERT_EQ(fitted.size(), 1u);
  EXPECT_EQ(fitted[0], (Rung{"240p", 240, 800, 64}));
  EXPECT_TRUE(fit_ladder({}, {320, 240}).empty());
}

TEST(Ladder, ScaledWidthKeepsTheAspectAndIsEven) {
  EXPECT_EQ(scaled_width({1920, 1080}, 720), 1280u);
  EXPECT_EQ(scaled_width({1920, 1080}, 360), 640u);
  EXPECT_EQ(scaled_width({1280, 720}, 480), 854u);
  EXPECT_EQ(scaled_width({0, 0}, 480), 0u);
}

}  // namespace
}  // namespace shoal::publish
