// End-to-end: tags and segments over a real Server: definitions, manual
// members, previews, exports (streamed), overlaps, changes, memberships.
#include <string>
#include <utility>
#include <vector>

#include "api/internal/member_export.h"
#include "api/testing/api_server_fixture.h"

namespace facet::api {
namespace {

using namespace testing;  // NOLINT: the harness
using testing::Reply;     // not the router's

constexpr TimeMs kDay = 24 * 3600 * 1000;

json IdentifyItem(std::string_view user, json traits, TimeMs at) {
  return {{"type", "identify"}, {"userId", user}, {"traits", std::move(traits)}, {"timestamp", FormatIso8601(at)}};
}

json OrderItem(std::string_view user, double revenue, TimeMs at) {
  return {{"type", "track"},
          {"userId", user},
          {"event", "Order Completed"},
          {"properties", {{"revenue", revenue}}},
          {"timestamp", FormatIso8601(at)}};
}

// u1 (佛山, two orders, an email), u2 (广州, one old order), u3 (佛山, none).
void SendAudienceData(Client& c) {
  json batch = json::array(
      {IdentifyItem("u1", {{"city", "佛山"}, {"age", 30}, {"email", "Li.Lei@Example.com"}}, kNow - 20 * kDay),
       IdentifyItem("u2", {{"city", "广州"}, {"age", 41}}, kNow - 50 * kDay),
       IdentifyItem("u3", {{"city", "佛山"}}, kNow - 5 * kDay), OrderItem("u1", 100, kNow - 2 * kDay),
       OrderItem("u1", 300, kNow - 10 * kDay), OrderItem("u2", 50, kNow - 40 * kDay)});
  Reply r = c.Post("/v1/batch", json{{"batch", batch}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json()["accepted"], 6) << r.body;
}

PersonId PersonOf(Client& c, std::string_view user) {
  Reply r = c.Get("/v1/persons/user_id/" + std::string(user));
  EXPECT_EQ(r.status, 200) << r.body;
  return r.Json()["person_id"].get<PersonId>();
}

TEST_F(ApiServerTest, TagTreeAndErrors) {
  Client c = Connect();
  SendAudienceData(c);
  Reply r = c.Admin(http::verb::put, "/v1/tags/region", {{"display_name", "地域"}, {"rule", "trait.city IS NOT NULL"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["kind"], "rule");
  EXPECT_EQ(r.Json()["count"], 3);
  EXPECT_EQ(r.Json()["parent"], nullptr);
  EXPECT_EQ(r.Json()["created_at"], "2024-05-01T08:30:00.000Z");
  r = c.Admin(
      http::verb::put, "/v1/tags/%E4%BD%9B%E5%B1%B1",
      {{"display_name", "佛山用户"}, {"parent", "region"}, {"owner", "ops"}, {"rule", "trait.city = \"佛山\""}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["name"], "佛山");
  EXPECT_EQ(r.Json()["count"], 2);
  r = c.Admin(http::verb::put, "/v1/tags/picked", {{"manual", true}, {"parent", "region"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["kind"], "manual");
  EXPECT_FALSE(r.Json().contains("rule"));

  r = c.Get("/v1/tags");
  ASSERT_EQ(r.status, 200) << r.body;
  json tree = r.Json()["tags"];
  ASSERT_EQ(tree.size(), 1u) << r.body;
  EXPECT_EQ(tree[0]["name"], "region");
  ASSERT_EQ(tree[0]["children"].size(), 2u);
  EXPECT_EQ(tree[0]["children"][0]["children"], json::array());

  // A parse error names the field, the line and the column.
  r = c.Admin(http::verb::put, "/v1/tags/bad", {{"rule", "trait.age >\n  AND tag(\"x\")"}});
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Json()["field"], "rule");
  EXPECT_EQ(r.Json()["line"], 2);
  EXPECT_EQ(r.Json()["column"], 3);
  r = c.Admin(http::verb::put, "/v1/tags/bad", {{"rule", "trait.age > 1"}, {"colour", "red"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "colour");
  r = c.Admin(http::verb::put, "/v1/tags/bad", {{"rule", 12}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "rule");
  r = c.Send(http::verb::put, "/v1/tags/bad", "{", {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 400);
  r = c.Admin(http::verb::put, "/v1/tags/bad", {{"rule", "trait.age > 1"}, {"parent", "nope"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.Json()["field"], "parent");
  r = c.Admin(http::verb::put, "/v1/tags/bad", {{"rule", "tag(\"nope\")"}});
  EXPECT_EQ(r.status, 404) << r.body;
  // Rules that refer to each other.
  ASSERT_EQ(c.Admin(http::verb::put, "/v1/tags/a", {{"rule", "trait.age > 1"}}).status, 200);
  ASSERT_EQ(c.Admin(http::verb::put, "/v1/tags/b", {{"rule", "tag(\"a\")"}}).status, 200);
  r = c.Admin(http::verb::put, "/v1/tags/a", {{"rule", "tag(\"b\")"}});
  EXPECT_EQ(r.status, 409) << r.body;

  r = c.Admin(http::verb::delete_, "/v1/tags/region", nullptr);
  EXPECT_EQ(r.status, 409) << r.body;
  r = c.Admin(http::verb::delete_, "/v1/tags/picked", nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"deleted":"picked"})"));
  EXPECT_EQ(c.Get("/v1/tags/picked").status, 404);
  EXPECT_EQ(c.Admin(http::verb::delete_, "/v1/tags/picked", nullptr).status, 404);
}

TEST_F(ApiServerTest, ManualMembersByJsonAndCsv) {
  Client c = Connect();
  SendAudienceData(c);
  ASSERT_EQ(c.Admin(http::verb::put, "/v1/tags/staff_pick", {{"kind", "manual"}}).status, 200);
  Reply r = c.Admin(http::verb::post, "/v1/tags/staff_pick/members",
                    {{"ns", "user_id"}, {"values", {"u1", " u2 ", "ghost"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"added":2,"matched":2,"not_found":["ghost"]})"));
  r = c.Admin(http::verb::post, "/v1/tags/staff_pick/members", {{"ns", "email"}, {"values", {"x@y.z", "nope"}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "values[1]");

  r = c.Send(http::verb::delete_, "/v1/tags/staff_pick/members?ns=user_id", "user_id\r\nu2\r\n\"u9\"\r\n",
             {{"Authorization", kBearerAdmin}, {"Content-Type", "text/csv"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"removed":1,"matched":1,"not_found":["u9"]})"));
  r = c.Send(http::verb::post, "/v1/tags/staff_pick/members?ns=phone", "phone\n138 0013 8000\nabc\n",
             {{"Authorization", kBearerAdmin}, {"Content-Type", "text/csv; charset=utf-8"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "line 3");

  r = c.Get("/v1/tags/staff_pick");
  EXPECT_EQ(r.Json()["count"], 1);
  ASSERT_EQ(
      c.Admin(http::verb::put, "/v1/tags/rich", {{"rule", "sum(\"Order Completed\", properties.revenue) > 10"}}).status,
      200);
  r = c.Admin(http::verb::post, "/v1/tags/rich/members", {{"ns", "user_id"}, {"values", {"u1"}}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = c.Admin(http::verb::post, "/v1/tags/none/members", {{"ns", "user_id"}, {"values", {"u1"}}});
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(ApiServerTest, PreviewCountsSamplesAndBreaksDown) {
  Client c = Connect();
  SendAudienceData(c);
  Reply r = c.Admin(http::verb::post, "/v1/segments/preview",
                    {{"expression", "count(\"Order Completed\") >= 1"}, {"breakdown", "trait.city"}, {"sample", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.Json();
  EXPECT_EQ(j["count"], 2);
  ASSERT_EQ(j["sample"].size(), 1u);
  EXPECT_TRUE(j["sample"][0]["identities"].is_array());
  EXPECT_EQ(j["breakdown"], json::parse(R"({"佛山":1,"广州":1})"));
  EXPECT_EQ(j["as_of"], "2024-05-01T08:30:00.000Z");
  EXPECT_TRUE(j["took_ms"].is_number());

  r = c.Admin(http::verb::post, "/v1/segments/preview",
              {{"expression", "trait.city IS NOT NULL"}, {"breakdown", "trait.age"}});
  EXPECT_EQ(r.Json()["breakdown"], json::parse(R"j({"30":1,"41":1,"(none)":1})j")) << r.body;

  // Thirty days back from twenty days ago: only u2's order.
  r = c.Admin(http::verb::post, "/v1/segments/preview",
              {{"expression", "count(\"Order Completed\", 30d) >= 1"}, {"as_of", FormatIso8601(kNow - 20 * kDay)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["count"], 1);
  EXPECT_EQ(r.Json()["sample"][0]["person_id"], PersonOf(c, "u2"));

  r = c.Admin(http::verb::post, "/v1/segments/preview", {{"expression", "count(\"Order Completed\" >= 1"}});
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "expression");
  EXPECT_EQ(r.Json()["line"], 1);
  r = c.Admin(http::verb::post, "/v1/segments/preview", {{"expression", "tag(\"x\")"}, {"sample", 1001}});
  EXPECT_EQ(r.Json()["field"], "sample");
  r = c.Admin(http::verb::post, "/v1/segments/preview", {{"expression", "tag(\"x\")"}});
  EXPECT_EQ(r.status, 404);
  r = c.Admin(http::verb::post, "/v1/segments/preview", {{"expression", "trait.a = 1"}, {"as_of", "yesterday"}});
  EXPECT_EQ(r.Json()["field"], "as_of");
}

TEST_F(ApiServerTest, SegmentsExportOverlapChangesAndMemberships) {
  Client c = Connect();
  SendAudienceData(c);
  Reply r = c.Admin(http::verb::put, "/v1/segments/buyers",
                    {{"expression", "count(\"Order Completed\") >= 1"}, {"description", "买过"}, {"owner", "ops"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["count"], 2);
  EXPECT_EQ(r.Json()["expression"], "count(\"Order Completed\") >= 1");
  ASSERT_EQ(c.Admin(http::verb::put, "/v1/tags/foshan", {{"rule", "trait.city = \"佛山\""}}).status, 200);
  EXPECT_EQ(c.Get("/v1/segments").Json()["segments"].size(), 1u);

  const PersonId u1 = PersonOf(c, "u1"), u2 = PersonOf(c, "u2"), u3 = PersonOf(c, "u3");
  r = c.Get("/v1/segments/buyers/members?ns=email&traits=city,age");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "text/csv; charset=utf-8");
  const std::string hashed = identity::Pseudonymizer("test-hmac-key").HexDigest("email", "li.lei@example.com");
  std::vector<std::string> rows = {"person_id,email,city,age", std::to_string(u1) + "," + hashed + ",佛山,30",
                                   std::to_string(u2) + ",,广州,41"};
  if (u2 < u1) std::swap(rows[1], rows[2]);
  EXPECT_EQ(r.body, rows[0] + "\r\n" + rows[1] + "\r\n" + rows[2] + "\r\n");

  r = c.Get("/v1/segments/buyers/members?ns=email&raw=true");
  EXPECT_EQ(r.status, 403) << r.body;
  r = c.Get("/v1/segments/buyers/members?ns=email&raw=true&format=ndjson&limit=5",
            {{"Authorization", std::string("Bearer ") + kPiiKey}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("{\"email\":\"li.lei@example.com\",\"person_id\":" + std::to_string(u1) + "}\n"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(c.Get("/v1/tags/foshan/members?format=xml").status, 400);
  r = c.Get("/v1/tags/foshan/members?limit=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.body,
            "person_id,user_id\r\n" + std::to_string(std::min(u1, u3)) + "," + (u1 < u3 ? "u1" : "u3") + "\r\n");

  r = c.Admin(http::verb::post, "/v1/segments/overlap", {{"segments", {"buyers", "tag:foshan"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["sizes"], json::parse("[2,2]"));
  EXPECT_EQ(r.Json()["matrix"], json::parse("[[2,1],[1,2]]"));
  r = c.Admin(http::verb::post, "/v1/segments/overlap", {{"segments", {"buyers"}}});
  EXPECT_EQ(r.status, 400);
  r = c.Admin(http::verb::post, "/v1/segments/overlap", {{"segments", {"buyers", "tag:nope"}}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Json()["field"], "segments[1]");

  r = c.Get("/v1/persons/user_id/u1/segments");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), (json{{"person_id", u1}, {"tags", {"foshan"}}, {"segments", {"buyers"}}}));
  EXPECT_EQ(c.Get("/v1/persons/user_id/nobody/segments").status, 404);

  // u3 orders and enters the segment.
  ASSERT_EQ(c.Post("/v1/batch", json{{"batch", {OrderItem("u3", 20, kNow - 1000)}}}.dump()).status, 200);
  r = c.Get("/v1/segments/buyers/changes");
  ASSERT_EQ(r.status, 200) << r.body;
  json changes = r.Json()["changes"];
  ASSERT_EQ(changes.size(), 1u) << r.body;
  EXPECT_EQ(changes[0]["person_id"], u3);
  EXPECT_EQ(changes[0]["change"], "entered");
  EXPECT_EQ(r.Json()["next"], "");
  r = c.Get("/v1/segments/buyers/changes?limit=1");
  EXPECT_EQ(r.Json()["next"], std::to_string(changes[0]["seq"].get<uint64_t>()));
  r = c.Get("/v1/segments/buyers/changes?after=" + r.Json()["next"].get<std::string>());
  EXPECT_EQ(r.Json()["changes"], json::array());
  EXPECT_EQ(c.Get("/v1/segments/buyers/changes?since=later").status, 400);

  r = c.Get("/v1/stats");
  EXPECT_EQ(r.Json()["tags"], 1);
  EXPECT_EQ(r.Json()["segments"], 1);
  r = c.Get("/metrics");
  EXPECT_NE(r.body.find("\nfacet_segments 1\n"), std::string::npos) << r.body;

  EXPECT_EQ(c.Admin(http::verb::delete_, "/v1/segments/buyers", nullptr).status, 200);
  EXPECT_EQ(c.Get("/v1/segments/buyers").status, 404);
}

// Persons e0, e1, ...: city "c<i % 7>" and age i, in batches under the body limit.
void SendNumberedPersons(Client& c, int n) {
  json batch = json::array();
  for (int i = 0; i < n; ++i) {
    batch.push_back(
        IdentifyItem("e" + std::to_string(i), {{"city", "c" + std::to_string(i % 7)}, {"age", i}}, kNow - kDay));
    if (batch.size() < 400 && i + 1 < n) continue;
    Reply r = c.Post("/v1/batch", json{{"batch", batch}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    batch = json::array();
  }
}

TEST_F(ApiServerTest, LargeExportsAreStreamed) {
  constexpr size_t kPersons = 3 * internal::kExportChunk + 123;  // more than three pieces
  Client c = Connect();
  SendNumberedPersons(c, kPersons);
  ASSERT_EQ(c.Admin(http::verb::put, "/v1/segments/everyone", {{"expression", "trait.age >= 0"}}).status, 200);

  Reply r = c.Get("/v1/segments/everyone/members?format=ndjson&traits=city,age");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(r.Header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.Header("Content-Length"), "");
  EXPECT_EQ(r.Header("Content-Type"), "application/x-ndjson");
  // Every person once, lowest ids first, with its own traits; the CSV export
  // must list the same rows.
  std::string csv = "person_id,user_id,city,age\r\n";
  std::set<std::string> users;
  PersonId last = 0;
  for (size_t begin = 0, end; begin < r.body.size(); begin = end + 1) {
    end = r.body.find('\n', begin);
    ASSERT_NE(end, std::string::npos);
    json j = json::parse(r.body.substr(begin, end - begin));
    const std::string user = j["user_id"];
    const int i = std::stoi(user.substr(1));
    const std::string city = "c" + std::to_string(i % 7);
    const PersonId id = j["person_id"];
    EXPECT_EQ(j, (json{{"person_id", id}, {"user_id", user}, {"city", city}, {"age", i}}));
    EXPECT_TRUE(users.empty() || id > last) << id;
    last = id;
    users.insert(user);
    csv += std::to_string(id) + "," + user + "," + city + "," + user.substr(1) + "\r\n";
  }
  EXPECT_EQ(users.size(), kPersons);

  // The same connection serves the next request after a stream.
  r = c.Get("/v1/segments/everyone/members?traits=city,age");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.body, csv);
  r = c.Get("/v1/segments/everyone/members?traits=city,age&limit=5000");
  size_t cut = 0;
  for (int line = 0; line < 5001; ++line) cut = csv.find("\r\n", cut) + 2;
  EXPECT_EQ(r.body, csv.substr(0, cut));

  // HTTP/1.0 has no chunked encoding: the same body, whole.
  Client old = Connect();
  r = old.Send(http::verb::get, "/v1/segments/everyone/members?traits=city,age", "", {{"Authorization", kBearerAdmin}},
               /*chunked=*/false, /*version=*/10);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Transfer-Encoding"), "");
  EXPECT_EQ(r.Header("Content-Length"), std::to_string(csv.size()));
  EXPECT_EQ(r.body, csv);
  EXPECT_TRUE(old.ClosedByServer());

  // Errors are found before the first byte and answered whole, as JSON.
  for (const auto& [target, status, field] : std::vector<std::tuple<std::string, int, std::string>>{
           {"/v1/segments/nobody/members", 404, ""},
           {"/v1/tags/nobody/members?format=ndjson", 404, ""},
           {"/v1/segments/everyone/members?format=xml", 400, "format"},
           {"/v1/segments/everyone/members?ns=", 400, "ns"},
           {"/v1/segments/everyone/members?limit=0", 400, "limit"},
           {"/v1/segments/everyone/members?traits=city,,age", 400, "traits"},
           {"/v1/segments/everyone/members?ns=email&raw=true", 403, "raw"}}) {
    r = c.Get(target);
    EXPECT_EQ(r.status, status) << target;
    EXPECT_EQ(r.Header("Transfer-Encoding"), "") << target;
    EXPECT_EQ(r.Json()["field"], field.empty() ? json(nullptr) : json(field)) << target << " " << r.body;
  }

  // Each export is counted once, when it ends.
  r = c.Get("/metrics");
  EXPECT_NE(r.body.find("facet_http_requests_total{route=\"/v1/segments/{name}/members\",code=\"200\"} 4\n"),
            std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace facet::api
