#include "app/tags_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "client/testing/loopback_http_server.h"

namespace facet::app {
namespace {

constexpr char kPack[] = R"(owner: 数据运营部
tags:
  - name: value
    display_name: 价值
    rule: count("Order Completed") >= 1
    children:
      - name: rfm
        display_name: RFM
        rule: tag("value")
        children:
          - name: high_value
            display_name: 高价值客户
            owner: CRM 组
            rule: |
              sum("Order Completed", properties.revenue, 365d) > 3000
  - name: staff
    display_name: 店员标记
    kind: manual
    children:
      - name: myopia_risk
        kind: manual
)";

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<TagPack> pack = ParseTagPack(text, "pack.yaml");
  EXPECT_FALSE(pack.ok());
  return std::string(pack.status().message());
}

TEST(TagPackTest, ReadsTheTreeParentsFirst) {
  absl::StatusOr<TagPack> pack = ParseTagPack(kPack, "pack.yaml");
  ASSERT_TRUE(pack.ok()) << pack.status();
  ASSERT_EQ(pack->tags.size(), 5u);
  std::vector<std::string> names;
  for (const PackTag& t : pack->tags) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"value", "rfm", "high_value", "staff", "myopia_risk"}));
  const PackTag& high = pack->tags[2];
  EXPECT_EQ(high.parent, "rfm");
  EXPECT_EQ(high.kind, "rule");
  EXPECT_EQ(high.owner, "CRM 组");
  EXPECT_EQ(high.display_name, "高价值客户");
  EXPECT_EQ(high.rule, "sum(\"Order Completed\", properties.revenue, 365d) > 3000\n");
  EXPECT_EQ(high.line, 11);
  EXPECT_EQ(pack->tags[0].owner, "数据运营部");
  EXPECT_EQ(pack->tags[4].kind, "manual");
  EXPECT_EQ(pack->tags[4].parent, "staff");
}

TEST(TagPackTest, ErrorsNameTheFileLineAndColumn) {
  EXPECT_EQ(ErrorOf("tags:\n  - name: a\n    colour: red\n    rule: trait.a = 1\n"),
            "pack.yaml:3:5: unknown key \"colour\" in a tag");
  // The position of the rule in the file, then the parser's position in the rule.
  EXPECT_THAT(ErrorOf("tags:\n  - name: a\n    rule: trait.a >\n"),
              ::testing::StartsWith("pack.yaml:3:11: rule of tag \"a\", line 1, column 10: "));
  EXPECT_EQ(ErrorOf("tags:\n  - name: a\n    rule: trait.a = 1\n  - name: a\n    kind: manual\n"),
            "pack.yaml:4:11: tag \"a\" is defined twice (first at line 2)");
  EXPECT_EQ(ErrorOf("tags:\n  - name: a\n    rule: tag(\"b\")\n  - name: b\n    kind: manual\n"),
            "pack.yaml:3:11: rule of tag \"a\" refers to tag \"b\", which comes later in the pack; define it first");
  EXPECT_EQ(ErrorOf("tags:\n  - name: a\n"), "pack.yaml:2:5: tag \"a\" needs a rule, or kind: manual or kind: model");
  EXPECT_EQ(ErrorOf("tags:\n  - name: a/b\n    kind: manual\n"),
            "pack.yaml:2:11: tag name \"a/b\" may not contain '/', quotes or control characters");
  EXPECT_EQ(ErrorOf("tags:\n  - name: a\n    kind: manual\n    rule: trait.a = 1\n"),
            "pack.yaml:4:11: manual tag \"a\" cannot have a rule");
  EXPECT_EQ(ErrorOf("tags: [ {name: a, kind: manual\n"), "pack.yaml:2:1: end of map flow not found");
  EXPECT_EQ(ErrorOf("tagz: []\n"), "pack.yaml:1:1: unknown key \"tagz\" in the pack");

  std::string deep = "tags:\n";
  for (int level = 0; level < 5; ++level) {
    const std::string indent(static_cast<size_t>(level) * 4, ' ');
    deep += indent + "  - name: t" + std::to_string(level) + "\n" + indent + "    kind: manual\n";
    if (level < 4) deep += indent + "    children:\n";
  }
  EXPECT_EQ(ErrorOf(deep), "pack.yaml:14:21: tag \"t4\" is deeper than 4 levels");
}

TEST(TagPackTest, TheRetailExamplePackIsValid) {
  absl::StatusOr<TagPack> pack = ReadTagPack(FACET_EXAMPLES_DIR "/tags/retail-pack.yaml");
  ASSERT_TRUE(pack.ok()) << pack.status();
  size_t rules = 0, manual = 0;
  for (const PackTag& t : pack->tags) {
    rules += t.kind == "rule";
    manual += t.kind == "manual";
    EXPECT_FALSE(t.display_name.empty()) << t.name;
    EXPECT_FALSE(t.description.empty()) << t.name;
  }
  EXPECT_GE(rules, 55u);
  EXPECT_GE(manual, 2u);
}

TEST(TagPackTest, ReadingAMissingFileIsNotFound) {
  EXPECT_EQ(ReadTagPack("/nonexistent/pack.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(LoadTagPackTest, PutsParentsFirstAndSkipsTheChildrenOfRefusedTags) {
  std::mutex mu;
  std::vector<std::string> targets;
  std::string high_value_body;
  client::testing::LoopbackHttpServer server([&](const auto& req, int, auto& res) {
    std::lock_guard lock(mu);
    targets.push_back(std::string(req.method_string()) + " " + std::string(req.target()));
    EXPECT_EQ(req[boost::beast::http::field::authorization], "Bearer ak");
    if (req.target() == "/v1/tags/high_value") high_value_body = req.body();
    if (req.target() == "/v1/tags/staff") {
      res.result(409);
      res.body() = R"({"error":"tag 'staff' has rule members","field":null,"index":-1})";
    } else {
      res.body() = "{}";
    }
    return client::testing::LoopbackHttpServer::After::kContinue;
  });
  absl::StatusOr<TagPack> pack = ParseTagPack(kPack, "pack.yaml");
  ASSERT_TRUE(pack.ok());
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  absl::StatusOr<LoadSummary> s = LoadTagPack(*pack, TagsOptions{.url = server.url(), .admin_key = "ak"}, log);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->loaded, 3u);
  EXPECT_EQ(s->failed, 2u);
  EXPECT_EQ(targets, (std::vector<std::string>{"PUT /v1/tags/value", "PUT /v1/tags/rfm", "PUT /v1/tags/high_value",
                                               "PUT /v1/tags/staff"}));
  EXPECT_EQ(high_value_body,
            "{\"display_name\":\"高价值客户\",\"parent\":\"rfm\",\"description\":\"\",\"owner\":\"CRM 组\","
            "\"kind\":\"rule\",\"rule\":\"sum(\\\"Order Completed\\\", properties.revenue, 365d) > 3000\\n\"}");
  std::rewind(log);
  std::string text;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), log)) text += buf;
  std::fclose(log);
  EXPECT_EQ(text,
            "pack.yaml:16:5: tag staff: HTTP 409: tag 'staff' has rule members\n"
            "pack.yaml:20:9: tag myopia_risk: skipped: its parent staff was not loaded\n");
}

TEST(LoadTagPackTest, ARefusedKeyStopsTheLoad) {
  client::testing::LoopbackHttpServer server([](const auto&, int, auto& res) {
    res.result(401);
    res.body() = R"({"error":"unknown key","field":"Authorization","index":-1})";
    return client::testing::LoopbackHttpServer::After::kContinue;
  });
  absl::StatusOr<TagPack> pack = ParseTagPack(kPack, "pack.yaml");
  ASSERT_TRUE(pack.ok());
  absl::StatusOr<LoadSummary> s = LoadTagPack(*pack, TagsOptions{.url = server.url(), .admin_key = "x"}, stderr);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace facet::app
