#include "api/json_render.h"

#include <gtest/gtest.h>

namespace facet::api {
namespace {

using nlohmann::json;

TEST(JsonRenderTest, ErrorShape) {
  EXPECT_EQ(ErrorJson("bad"), json::parse(R"({"error":"bad"})"));
  EXPECT_EQ(ErrorJson(ingest::InputError{"needs event", "batch[2].event", 2}),
            json::parse(R"({"error":"needs event","field":"batch[2].event","index":2})"));
}

TEST(JsonRenderTest, RawJsonFallsBackToString) {
  EXPECT_EQ(RawJson(R"({"a":[1,2]})"), json::parse(R"({"a":[1,2]})"));
  EXPECT_EQ(RawJson("42"), json(42));
  EXPECT_EQ(RawJson("{trunc"), json("{trunc"));
}

TEST(JsonRenderTest, EventJson) {
  profiles::Event e;
  e.type = profiles::EventType::kPage;
  e.message_id = "m1";
  e.name = "Home";
  e.timestamp = 1714552200000;  // 2024-05-01T08:30:00Z
  e.received_at = 1714552201000;
  e.user_id = "u1";
  e.properties = R"({"path":"/"})";
  e.traits = {{"plan", R"("pro")"}};
  json j = EventJson(e, 7);
  EXPECT_EQ(j["message_id"], "m1");
  EXPECT_EQ(j["type"], "page");
  EXPECT_EQ(j["event"], "Home");
  EXPECT_EQ(j["name"], "Home");
  EXPECT_EQ(j["timestamp"], "2024-05-01T08:30:00.000Z");
  EXPECT_EQ(j["anonymous_id"], nullptr);
  EXPECT_EQ(j["properties"]["path"], "/");
  EXPECT_EQ(j["context"], json::object());
  EXPECT_EQ(j["traits"]["plan"], "pro");
  EXPECT_EQ(j["person_id"], 7);
}

TEST(JsonRenderTest, MergeJson) {
  identity::MergeRecord m;
  m.id = 3;
  m.status = identity::MergeStatus::kRefused;
  m.survivor = 1;
  m.absorbed = 2;
  m.at = 1714552200000;
  m.reason = "identify";
  m.via = {"user_id", "u2"};
  m.detail = "user_id limit 1";
  json j = MergeJson(m);
  EXPECT_EQ(j["status"], "refused");
  EXPECT_EQ(j["undone_at"], nullptr);
  EXPECT_EQ(j["via"], json::parse(R"({"ns":"user_id","value":"u2"})"));
  EXPECT_EQ(j["detail"], "user_id limit 1");
}

TEST(JsonRenderTest, DumpReplacesInvalidUtf8) {
  std::string s =
      Dump(json("a\xff"
                "b"));
  EXPECT_EQ(s,
            "\"a\xEF\xBF\xBD"
            "b\"");
}

}  // namespace
}  // namespace facet::api
