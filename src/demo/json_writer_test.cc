#include "demo/internal/json_writer.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace facet::demo::internal {
namespace {

TEST(JsonWriterTest, WritesNestedObjectsAndArraysWithCommas) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("a").Int(1);
  w.Key("b").BeginArray().Int(-2).String("x").BeginObject().EndObject().BeginArray().EndArray().EndArray();
  w.Key("c").BeginObject().Key("d").Bool(true).Key("e").Bool(false).EndObject();
  w.Key("f").Raw("null");
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[-2,"x",{},[]],"c":{"d":true,"e":false},"f":null})");
}

TEST(JsonWriterTest, EscapesStrings) {
  std::string out;
  JsonWriter w(&out);
  const std::string nasty = "q\"b\\n\nt\tc\x01 \x1f 明眸 end";
  w.BeginObject().Key("k\"ey").String(nasty).EndObject();
  const auto parsed = nlohmann::json::parse(out);
  EXPECT_EQ(parsed["k\"ey"].get<std::string>(), nasty);
  EXPECT_NE(out.find("\\u0001"), std::string::npos);
  EXPECT_NE(out.find("明眸"), std::string::npos) << "UTF-8 passes through";
}

TEST(JsonWriterTest, FixedPointNumbersAreExact) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray().Fixed(39900, 2).Fixed(5, 2).Fixed(-1131105, 4).Fixed(0, 2).Fixed(7, 0).EndArray();
  EXPECT_EQ(out, "[399.00,0.05,-113.1105,0.00,7]");
}

}  // namespace
}  // namespace facet::demo::internal
