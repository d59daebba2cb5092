#include "base/json_string.h"

#include <string>

#include "gtest/gtest.h"

namespace facet {
namespace {

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("plain text"), "\"plain text\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\x01\x1f\x00", 3)), "\"\\u0001\\u001f\\u0000\"");
  EXPECT_EQ(JsonString("佛山 é \x7f"), "\"佛山 é \x7f\"");
}

TEST(JsonStringTest, EveryPositionOfALongStringIsChecked) {
  // The escaper skips eight bytes at a time: an escape at each offset of a
  // long run must still be found.
  for (size_t at = 0; at < 40; ++at) {
    std::string s(40, 'x');
    s[at] = '"';
    std::string want = "\"" + std::string(at, 'x') + "\\\"" + std::string(39 - at, 'x') + "\"";
    EXPECT_EQ(JsonString(s), want) << at;
  }
  std::string out = "prefix:";
  AppendJsonString(&out, "v");
  EXPECT_EQ(out, "prefix:\"v\"");
}

}  // namespace
}  // namespace facet
