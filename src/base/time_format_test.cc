#include "base/time_format.h"

#include "gtest/gtest.h"

namespace facet {
namespace {

TEST(TimeFormatTest, ParsesUtcWithMillis) {
  auto t = ParseIso8601("2024-05-01T12:30:00.123Z");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 1714566600123);
  EXPECT_EQ(FormatIso8601(*t), "2024-05-01T12:30:00.123Z");
}

TEST(TimeFormatTest, AppliesOffset) {
  auto t = ParseIso8601("2024-05-01T20:30:00+08:00");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatIso8601(*t), "2024-05-01T12:30:00.000Z");
}

TEST(TimeFormatTest, AcceptsSpaceSeparatorAndDateOnly) {
  EXPECT_EQ(*ParseIso8601("2010-12-01 08:26:00"), *ParseIso8601("2010-12-01T08:26:00Z"));
  EXPECT_EQ(FormatIso8601(*ParseIso8601("1970-01-02")), "1970-01-02T00:00:00.000Z");
}

TEST(TimeFormatTest, MicrosecondsAreTruncatedToMillis) {
  EXPECT_EQ(*ParseIso8601("2024-01-01T00:00:00.123456Z") % 1000, 123);
}

TEST(TimeFormatTest, RejectsGarbageWithReason) {
  for (const char* bad :
       {"", "yesterday", "2024-13-01", "2024-02-30", "2024-01-01T25:00:00Z", "2024-01-01T10:00:00Zjunk"}) {
    auto t = ParseIso8601(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(TimeFormatTest, FormatsBeforeEpoch) { EXPECT_EQ(FormatIso8601(-1), "1969-12-31T23:59:59.999Z"); }

}  // namespace
}  // namespace facet
