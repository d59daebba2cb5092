// End-to-end: a real Server on a free loopback port over in-memory state:
// ingest, persons, merges, transport and metrics.
#include "api/testing/api_server_fixture.h"

#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace facet::api {
namespace {

using namespace testing;  // NOLINT: the harness
using testing::Reply;     // not the router's

TEST_F(ApiServerTest, TrackedEventShowsOnThePerson) {
  Client c = Connect();
  Reply r = c.Post("/v1/track", TrackBody("u1", "Order Completed", "m1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"success":true,"accepted":1,"duplicates":0,"quarantined":[]})"));
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r.Header("Content-Type"), "application/json");

  r = c.Get("/v1/persons/user_id/u1");
  ASSERT_EQ(r.status, 200) << r.body;
  json person = r.Json();
  EXPECT_EQ(person["event_count"], 1);
  EXPECT_EQ(person["event_counts"], json::parse(R"({"Order Completed":1})"));
  EXPECT_EQ(person["counts_by_type"], json::parse(R"({"track":1})"));
  EXPECT_EQ(person["revenue"], 12.5);
  EXPECT_EQ(person["first_seen"], "2024-05-01T08:30:00.000Z");
  EXPECT_EQ(person["identities"], json::parse(R"([{"ns":"user_id","value":"u1"}])"));
  EXPECT_EQ(person["location"], nullptr);
  EXPECT_EQ(person["merged_atoms"], json::array({person["person_id"]}));

  r = c.Get("/v1/persons/user_id/u1/events?limit=10");
  ASSERT_EQ(r.status, 200) << r.body;
  json events = r.Json();
  ASSERT_EQ(events["events"].size(), 1u);
  EXPECT_EQ(events["events"][0]["message_id"], "m1");
  EXPECT_EQ(events["events"][0]["event"], "Order Completed");
  EXPECT_EQ(events["events"][0]["properties"]["revenue"], 12.5);
  EXPECT_EQ(events["events"][0]["person_id"], person["person_id"]);
  EXPECT_EQ(events["next"], nullptr);

  r = c.Get("/v1/events/m1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["user_id"], "u1");
  EXPECT_EQ(r.Json()["person_id"], person["person_id"]);

  // The same messageId again is a duplicate.
  r = c.Post("/v1/t", TrackBody("u1", "Order Completed", "m1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 0);
  EXPECT_EQ(r.Json()["duplicates"], 1);

  r = c.Get("/v1/stats");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["events"], 1);
  EXPECT_EQ(r.Json()["persons"], 1);
  EXPECT_EQ(r.Json()["deduplicated"], 1);
}

TEST_F(ApiServerTest, IngestKeyRules) {
  Client c = Connect();
  Reply r = c.Post("/v1/track", TrackBody("u1", "A", "k1"), {});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Json(), json::parse(R"({"error":"unknown write key","field":"writeKey"})"));
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");

  r = c.Post("/v1/track", TrackBody("u1", "A", "k2"), {{"Authorization", "Basic bm9wZTo="}});
  EXPECT_EQ(r.status, 401);

  // writeKey in the body, as the browser SDK sends it with text/plain.
  json body = json::parse(TrackBody("u1", "A", "k3"));
  body["writeKey"] = kWriteKey;
  r = c.Post("/v1/track", body.dump(), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 200) << r.body;

  // Admin keys may send events too.
  r = c.Post("/v1/track", TrackBody("u1", "A", "k4"), {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ApiServerTest, AdminKeyRules) {
  Client c = Connect();
  Reply r = c.Get("/v1/stats", {});
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.Json()["error"].is_string());
  r = c.Get("/v1/stats", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(r.status, 401);
  r = c.Get("/v1/stats", {{"Authorization", "Bearer wk_test"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Json()["error"], "write keys may only send events");
  r = c.Get("/metrics", {{"Authorization", kBasicWrite}});
  EXPECT_EQ(r.status, 403);
  r = c.Get("/healthz", {});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Json(), json::parse(R"({"status":"ok"})"));
}

TEST_F(ApiServerTest, MalformedJsonIs400WithError) {
  Client c = Connect();
  Reply r = c.Post("/v1/batch", "{\"batch\": [", {{"Authorization", kBasicWrite}});
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(r.Json().is_object()) << r.body;
  EXPECT_TRUE(r.Json()["error"].is_string());
  EXPECT_FALSE(r.Json()["error"].get<std::string>().empty());
}

TEST_F(ApiServerTest, BatchWithOnlyInvalidEventsIs400AndQuarantined) {
  Client c = Connect();
  std::string body = R"({"batch":[{"type":"track","userId":"u1"},{"type":"track","userId":"u2"}]})";
  Reply r = c.Post("/v1/batch", body);
  ASSERT_EQ(r.status, 400) << r.body;
  json j = r.Json();
  EXPECT_EQ(j["index"], 0);
  EXPECT_TRUE(j["error"].is_string());
  EXPECT_EQ(j["errors"].size(), 2u);
  EXPECT_EQ(j["quarantined"], j["errors"]);
  EXPECT_EQ(j["quarantined"].size(), 2u);

  r = c.Get("/v1/quarantine?limit=10");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json()["quarantined"].size(), 2u);
  EXPECT_TRUE(r.Json()["quarantined"][0]["raw"].is_string());
}

TEST_F(ApiServerTest, PartlyInvalidBatchIs200WithQuarantinedList) {
  Client c = Connect();
  std::string body = R"({"batch":[{"type":"track","userId":"u1","event":"A"},{"type":"track","userId":"u2"}]})";
  Reply r = c.Post("/v1/batch", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 1);
  ASSERT_EQ(r.Json()["quarantined"].size(), 1u);
  EXPECT_EQ(r.Json()["quarantined"][0]["index"], 1);
}

TEST_F(ApiServerTest, GzipBodiesAreAccepted) {
  Client c = Connect();
  std::string batch = json{{"batch", json::array({TrackItem("u1", "A", "g1"), TrackItem("u1", "B", "g2")})}}.dump();
  Reply r = c.Post("/v1/batch", Gzip(batch), {{"Authorization", kBasicWrite}, {"Content-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 2);

  // RudderStack: gzip without Content-Encoding, sent as a form.
  std::string other = json{{"batch", json::array({TrackItem("u1", "C", "g3")})}}.dump();
  r = c.Post("/v1/batch", Gzip(other),
             {{"Authorization", kBasicWrite}, {"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 1);

  r = c.Post("/v1/batch", "not gzip at all", {{"Authorization", kBasicWrite}, {"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 400);
}

TEST_F(ApiServerTest, OversizedBodiesGet413) {
  std::string big = "{\"batch\":[],\"pad\":\"" + std::string(kMaxBody, 'x') + "\"}";
  {
    Client c = Connect();
    Reply r = c.Post("/v1/batch", big);
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(r.Json()["error"].is_string()) << r.body;
    EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    Client c = Connect();  // no Content-Length: caught while reading
    Reply r = c.Send(http::verb::post, "/v1/batch", big, {{"Authorization", kBasicWrite}},
                     /*chunked=*/true);
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(r.Json()["error"].is_string()) << r.body;
  }
  {
    Client c = Connect();  // small compressed, too large once decompressed
    Reply r = c.Post("/v1/batch", Gzip(big), {{"Authorization", kBasicWrite}, {"Content-Encoding", "gzip"}});
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(r.Json()["error"].is_string()) << r.body;
  }
}

TEST_F(ApiServerTest, ExpectContinueIsHonoured) {
  Client c = Connect();
  Reply r = c.Send(http::verb::post, "/v1/track", TrackBody("u1", "A", "e1"),
                   {{"Authorization", kBasicWrite}, {"Expect", "100-continue"}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = c.Get("/healthz", {});  // the connection is still usable
  EXPECT_EQ(r.status, 200);
}

TEST_F(ApiServerTest, KeepAliveAndConnectionClose) {
  Client c = Connect();
  for (int i = 0; i < 5; ++i) {
    Reply r = c.Get("/healthz", {});
    ASSERT_EQ(r.status, 200);
  }
  Reply r = c.Get("/healthz", {{"Connection", "close"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(ApiServerTest, NotFoundAndMethodNotAllowed) {
  Client c = Connect();
  Reply r = c.Get("/v2/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.Json()["error"].is_string());
  r = c.Send(http::verb::post, "/v1/stats", "", {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET");
  r = c.Get("/v1/persons/user_id/nobody");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Json()["error"], "person not found");
  r = c.Get("/v1/persons/email/not-an-email");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "value");
  r = c.Get("/v1/persons/user_id/u1/events?limit=0");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["field"], "limit");
  r = c.Get("/v1/persons/user_id/%zz");
  EXPECT_EQ(r.status, 400);
  r = c.Get("/v1/events/nope");
  EXPECT_EQ(r.status, 404);
}

TEST_F(ApiServerTest, PercentEncodedIdentifiersAreNormalised) {
  Client c = Connect();
  std::string body = R"({"userId":"u9","traits":{"email":"Li.Lei@Example.com","name":"李雷"}})";
  Reply r = c.Post("/v1/identify", body);
  ASSERT_EQ(r.status, 200) << r.body;
  r = c.Get("/v1/persons/email/%20LI.LEI%40example.COM");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["traits"]["name"], "李雷");
}

TEST_F(ApiServerTest, CorsPreflight) {
  Client c = Connect();
  Reply r = c.Send(http::verb::options, "/v1/batch", "", {{"Origin", "https://shop.example"}});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
  EXPECT_NE(r.Header("Access-Control-Allow-Headers").find("Content-Encoding"), std::string::npos);
  EXPECT_NE(r.Header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST_F(ApiServerTest, MergeAndUndo) {
  Client c = Connect();
  ASSERT_EQ(c.Post("/v1/track", R"({"anonymousId":"a1","event":"Viewed"})").status, 200);
  ASSERT_EQ(c.Post("/v1/identify", R"({"userId":"u1"})").status, 200);
  ASSERT_EQ(c.Post("/v1/identify", R"({"userId":"u1","anonymousId":"a1"})").status, 200);

  Reply r = c.Get("/v1/persons/user_id/u1/merges");
  ASSERT_EQ(r.status, 200) << r.body;
  json merges = r.Json()["merges"];
  ASSERT_EQ(merges.size(), 1u) << r.body;
  EXPECT_EQ(merges[0]["status"], "merged");
  uint64_t id = merges[0]["id"];

  r = c.Get("/v1/persons/anonymous_id/a1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["merged_atoms"].size(), 2u);

  r = c.Post("/v1/merges/" + std::to_string(id) + "/undo", "", {{"Authorization", kBearerAdmin}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["undone"], id);
  r = c.Post("/v1/merges/" + std::to_string(id) + "/undo", "", {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 409) << r.body;
  r = c.Post("/v1/merges/999/undo", "", {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 404) << r.body;
  r = c.Post("/v1/merges/x/undo", "", {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(ApiServerTest, HealthzShowsTheStickyStoreError) {
  Client c = Connect();
  Reply r = c.Get("/healthz", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"status":"ok"})"));

  kv_.FailWritesForTest(absl::InternalError("IO error: No space left on device"));
  r = c.Post("/v1/track", TrackBody("u1", "A", "h1"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Json()["error"], "events were not stored: store write failed: IO error: No space left on device");

  // The first cause sticks, even once the store works again.
  kv_.FailWritesForTest(absl::OkStatus());
  r = c.Get("/healthz", {});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"status":"failed",
                                      "error":"store write failed: IO error: No space left on device"})"));
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  r = c.Post("/v1/track", TrackBody("u2", "A", "h2"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Json()["error"], "events were not stored: store write failed: IO error: No space left on device");
  r = c.Post("/v1/merges/1/undo", "", {{"Authorization", kBearerAdmin}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Json()["error"], "store write failed: IO error: No space left on device");
  r = c.Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("facet_up 0"), std::string::npos);
}

TEST_F(ApiServerTest, MetricsUseRouteTemplates) {
  Client c = Connect();
  ASSERT_EQ(c.Post("/v1/t", TrackBody("u1", "A", "x1")).status, 200);
  ASSERT_EQ(c.Get("/v1/persons/user_id/u1").status, 200);
  Reply r = c.Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("facet_http_requests_total{route=\"/v1/track\",code=\"200\"} 1\n"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("route=\"/v1/persons/{ns}/{value}\",code=\"200\"} 1\n"), std::string::npos);
  EXPECT_EQ(r.body.find("user_id/u1"), std::string::npos);
  EXPECT_NE(r.body.find("\nfacet_events_accepted_total 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("facet_http_request_duration_seconds_bucket{route=\"/v1/track\",le=\"+Inf\"} 1"),
            std::string::npos);
}

TEST_F(ApiServerTest, ManyConcurrentClients) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client c = Connect();
      for (int i = 0; i < 20; ++i) {
        std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        if (c.Post("/v1/track", TrackBody("u" + std::to_string(t), "A", id)).status == 200) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 160);
  Client c = Connect();
  EXPECT_EQ(c.Get("/v1/stats").Json()["events"], 160);
}

TEST_F(ApiServerTest, BusyPortIsUnavailable) {
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = server_->port();
  options.threads = 1;
  Server other(options, Services{pipeline_, graph_, profiles_, kv_, clock_, audiences_});
  absl::Status s = other.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(s.message()).find(std::to_string(server_->port())), std::string::npos);
}

TEST_F(ApiServerTest, StopClosesIdleConnectionsAndIsIdempotent) {
  Client c = Connect();
  ASSERT_EQ(c.Get("/healthz", {}).status, 200);
  server_->Stop();
  EXPECT_TRUE(c.ClosedByServer());
  server_->Stop();
  server_->Wait();
}

}  // namespace
}  // namespace facet::api
