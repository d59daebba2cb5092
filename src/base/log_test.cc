#include "base/log.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace facet::log {
namespace {

// Restores the level a test changed.
class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { SetLevel(Level::kInfo); }
};

TEST_F(LogTest, ParsesEveryLevelNameInAnyCase) {
  for (Level l :
       {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kCritical, Level::kOff}) {
    absl::StatusOr<Level> parsed = ParseLevel(LevelName(l));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, l);
  }
  EXPECT_EQ(*ParseLevel("WARNING"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("Debug"), Level::kDebug);
}

TEST_F(LogTest, UnknownLevelNamesTheChoices) {
  absl::StatusOr<Level> parsed = ParseLevel("verbose");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("verbose"), std::string_view::npos);
  EXPECT_NE(parsed.status().message().find("trace, debug, info, warn, error, critical or off"), std::string_view::npos);
}

TEST_F(LogTest, MessagesBelowTheLevelAreDropped) {
  CaptureForTest capture;
  SetLevel(Level::kWarn);
  EXPECT_EQ(GetLevel(), Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Info("not shown");
  Warn("disk ", 93, "% full");
  Error("store write failed: ", "IO error");
  using Lines = std::vector<std::pair<Level, std::string>>;
  EXPECT_EQ(capture.lines(), (Lines{{Level::kWarn, "disk 93% full"}, {Level::kError, "store write failed: IO error"}}));
}

TEST_F(LogTest, OffDropsEverything) {
  CaptureForTest capture;
  SetLevel(Level::kOff);
  Critical("not shown");
  EXPECT_FALSE(Enabled(Level::kCritical));
  EXPECT_TRUE(capture.lines().empty());
}

TEST_F(LogTest, BracesAreNotFormatted) {
  CaptureForTest capture;
  Info("{\"status\":\"ok\"} {}");
  ASSERT_EQ(capture.lines().size(), 1u);
  EXPECT_EQ(capture.lines()[0].second, "{\"status\":\"ok\"} {}");
}

}  // namespace
}  // namespace facet::log
