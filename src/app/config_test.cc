#include "app/config.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace facet::app {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(ConfigTest, ReadsEverySection) {
  std::string path = WriteFile("full", R"(
data_dir: /tmp/x
server: {port: 9090, bind: 127.0.0.1, threads: 3}
keys: {write: [w1, w2], admin: a1}
ingest: {max_event_bytes: 1000, max_batch_bytes: 20000, dedupe_window: 14d, sync: true}
identity:
  default_country_code: "1"
  limits: {device_id: 3, email: 0}
  sources:
    - {ns: wechat_openid, path: traits.wechat_openid}
storage: {block_cache_mb: 64}
memory: {heap_reserve_mb: 0}
log: {level: debug}
)");
  Config c;
  EXPECT_EQ(c.log_level, log::Level::kInfo);
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.server.port, 9090);
  EXPECT_EQ(c.server.threads, 3);
  EXPECT_EQ(c.server.write_keys, (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(c.server.admin_keys, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(c.server.parse.max_event_bytes, 1000u);
  EXPECT_EQ(c.server.max_body_bytes, 20000u);
  EXPECT_EQ(c.pipeline.dedupe_window_ms, 14LL * 86400000);
  EXPECT_EQ(c.server.parse.identity.default_country_code, "1");
  EXPECT_EQ(c.server.parse.identity.max_per_namespace.at("device_id"), 3);
  EXPECT_EQ(c.server.parse.identity.max_per_namespace.count("email"), 0u);
  ASSERT_EQ(c.server.parse.identifier_sources.size(), 1u);
  EXPECT_EQ(c.server.parse.identifier_sources[0].path, "traits.wechat_openid");
  EXPECT_EQ(c.block_cache_mb, 64u);
  EXPECT_EQ(c.heap_reserve_mb, 0u);
  EXPECT_EQ(c.log_level, log::Level::kDebug);
  std::filesystem::remove(path);
}

TEST(ConfigTest, UnknownLogLevelIsNamed) {
  std::string path = WriteFile("loglevel", "log: {level: loud}\n");
  Config c;
  auto s = LoadConfigFile(path, &c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("log.level"), std::string::npos) << s;
  EXPECT_NE(s.message().find("loud"), std::string::npos) << s;
  EXPECT_EQ(c.log_level, log::Level::kInfo);
  std::filesystem::remove(path);
}

TEST(ConfigTest, UnknownKeyIsNamed) {
  std::string path = WriteFile("typo", "server: {prot: 1}\n");
  Config c;
  auto s = LoadConfigFile(path, &c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("server.prot"), std::string::npos) << s;
  std::filesystem::remove(path);
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  std::string path = WriteFile("syntax", "server:\n  port: [1\n");
  Config c;
  auto s = LoadConfigFile(path, &c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("line"), std::string::npos) << s;
  std::filesystem::remove(path);
}

TEST(ConfigTest, WrongTypeIsNamed) {
  std::string path = WriteFile("type", "server: {port: eighty}\n");
  Config c;
  auto s = LoadConfigFile(path, &c);
  EXPECT_NE(s.message().find("server.port"), std::string::npos) << s;
  std::filesystem::remove(path);
}

TEST(ConfigTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("7d"), 7 * 86400000LL);
  EXPECT_EQ(*ParseDuration("250ms"), 250);
  EXPECT_FALSE(ParseDuration("7 days").ok());
  EXPECT_FALSE(ParseDuration("d").ok());
}

TEST(ConfigTest, HmacKeyIsCreatedOnceAndKept) {
  Config c;
  c.data_dir = (std::filesystem::temp_directory_path() / ("facet_hmac_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(c.data_dir);
  ASSERT_TRUE(LoadOrCreateHmacKey(&c).ok());
  std::string first = c.server.parse.identity.hmac_key;
  EXPECT_EQ(first.size(), 64u);
  Config again;
  again.data_dir = c.data_dir;
  ASSERT_TRUE(LoadOrCreateHmacKey(&again).ok());
  EXPECT_EQ(again.server.parse.identity.hmac_key, first);
  auto perms = std::filesystem::status(c.data_dir + "/hmac.key").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::group_read, std::filesystem::perms::none);
  std::filesystem::remove_all(c.data_dir);
}

}  // namespace
}  // namespace facet::app
