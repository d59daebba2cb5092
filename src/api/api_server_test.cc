// End-to-end: a real Server on a free loopback port over in-memory state,
// spoken to with a small Beast client.
#include "api/server.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "api/internal/member_export.h"
#include "base/time_format.h"
#include "identity/identity_graph.h"
#include "ingest/pipeline.h"
#include "profiles/profile_store.h"
#include "store/mem_kv_store.h"

namespace facet::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

constexpr TimeMs kNow = 1714552200000;  // 2024-05-01T08:30:00Z
constexpr size_t kMaxBody = 64 * 1024;
constexpr char kWriteKey[] = "wk_test";
constexpr char kAdminKey[] = "ak_test";
constexpr char kPiiKey[] = "ak_pii";  // an admin key that may export raw PII
// "Basic " + base64("wk_test:")
constexpr char kBasicWrite[] = "Basic d2tfdGVzdDo=";
constexpr char kBearerAdmin[] = "Bearer ak_test";

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;
  std::string body;
  http::fields headers;
  json Json() const { return json::parse(body, nullptr, /*allow_exceptions=*/false); }
  std::string Header(std::string_view name) const {
    auto it = headers.find(beast::string_view(name.data(), name.size()));
    return it == headers.end() ? "" : std::string(it->value());
  }
};

// One kept-alive connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  Reply Send(http::verb method, std::string target, std::string body = "", Headers headers = {},
             bool chunked = false, unsigned version = 11) {
    http::request<http::string_body> req{method, target, version};
    req.set(http::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    if (chunked) {
      req.chunked(true);
    } else {
      req.prepare_payload();
    }
    http::write(socket_, req);
    http::response<http::string_body> res;
    do {  // skip interim "100 Continue" responses
      http::response_parser<http::string_body> parser;
      parser.body_limit(16 << 20);
      http::read(socket_, buffer_, parser);
      res = parser.release();
    } while (res.result() == http::status::continue_);
    Reply r;
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    for (const auto& f : res) r.headers.insert(f.name_string(), f.value());
    return r;
  }

  Reply Get(std::string target, Headers headers = {{"Authorization", kBearerAdmin}}) {
    return Send(http::verb::get, std::move(target), "", std::move(headers));
  }

  Reply Post(std::string target, std::string body,
             Headers headers = {{"Authorization", kBasicWrite}}) {
    return Send(http::verb::post, std::move(target), std::move(body), std::move(headers));
  }

  // Admin requests with a JSON body.
  Reply Admin(http::verb method, std::string target, const json& body) {
    return Send(method, std::move(target), body.is_null() ? "" : body.dump(),
                {{"Authorization", kBearerAdmin}, {"Content-Type", "application/json"}});
  }

  // True once the server has closed the connection.
  bool ClosedByServer() {
    beast::error_code ec;
    char c;
    socket_.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string Gzip(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string TrackBody(std::string_view user, std::string_view event, std::string_view message_id) {
  return json{{"userId", user},
              {"event", event},
              {"messageId", message_id},
              {"properties", {{"revenue", 12.5}}}}
      .dump();
}

// One batch item: a track event with its type.
json TrackItem(std::string_view user, std::string_view event, std::string_view message_id) {
  json item = json::parse(TrackBody(user, event, message_id));
  item["type"] = "track";
  return item;
}

identity::IdentityOptions IdentityOptionsForTest() {
  identity::IdentityOptions o;
  o.hmac_key = "test-hmac-key";
  return o;
}

ingest::PipelineOptions PipelineOptionsForTest() {
  ingest::PipelineOptions o;
  o.sync = false;
  return o;
}

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest()
      : graph_(kv_, IdentityOptionsForTest()),
        profiles_(kv_),
        audiences_(kv_, graph_, profiles_),
        pipeline_(kv_, graph_, profiles_, clock_, PipelineOptionsForTest()) {
    pipeline_.SetAudienceEngine(&audiences_);
  }

  void SetUp() override {
    ASSERT_TRUE(pipeline_.Start().ok());
    ServerOptions options;
    options.bind_address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.write_keys = {kWriteKey};
    options.admin_keys = {kAdminKey, kPiiKey};
    options.pii_keys = {kPiiKey};
    options.max_body_bytes = kMaxBody;
    options.parse.max_batch_bytes = kMaxBody;
    options.parse.identity = IdentityOptionsForTest();
    server_ = std::make_unique<Server>(options, Services{pipeline_, graph_, profiles_, kv_, clock_, audiences_});
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) server_->Stop();
    pipeline_.Stop();
  }

  Client Connect() { return Client(server_->port()); }

  store::MemKvStore kv_;
  FakeClock clock_{kNow};
  identity::IdentityGraph graph_;
  profiles::ProfileStore profiles_;
  segments::AudienceEngine audiences_;
  ingest::Pipeline pipeline_;
  std::unique_ptr<Server> server_;
};

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
  EXPECT_EQ(r.Json(), json::parse(R"({"error":"unknown write key","field":"writeKey","index":-1})"));
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
  std::string body =
      R"({"batch":[{"type":"track","userId":"u1","event":"A"},{"type":"track","userId":"u2"}]})";
  Reply r = c.Post("/v1/batch", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 1);
  ASSERT_EQ(r.Json()["quarantined"].size(), 1u);
  EXPECT_EQ(r.Json()["quarantined"][0]["index"], 1);
}

TEST_F(ApiServerTest, GzipBodiesAreAccepted) {
  Client c = Connect();
  std::string batch =
      json{{"batch", json::array({TrackItem("u1", "A", "g1"), TrackItem("u1", "B", "g2")})}}.dump();
  Reply r = c.Post("/v1/batch", Gzip(batch),
                   {{"Authorization", kBasicWrite}, {"Content-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 2);

  // RudderStack: gzip without Content-Encoding, sent as a form.
  std::string other = json{{"batch", json::array({TrackItem("u1", "C", "g3")})}}.dump();
  r = c.Post("/v1/batch", Gzip(other),
             {{"Authorization", kBasicWrite},
              {"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 1);

  r = c.Post("/v1/batch", "not gzip at all",
             {{"Authorization", kBasicWrite}, {"Content-Encoding", "gzip"}});
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
    Reply r = c.Post("/v1/batch", Gzip(big),
                     {{"Authorization", kBasicWrite}, {"Content-Encoding", "gzip"}});
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

TEST_F(ApiServerTest, MetricsUseRouteTemplates) {
  Client c = Connect();
  ASSERT_EQ(c.Post("/v1/t", TrackBody("u1", "A", "x1")).status, 200);
  ASSERT_EQ(c.Get("/v1/persons/user_id/u1").status, 200);
  Reply r = c.Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("facet_http_requests_total{route=\"/v1/track\",code=\"200\"} 1\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("route=\"/v1/persons/{ns}/{value}\",code=\"200\"} 1\n"), std::string::npos);
  EXPECT_EQ(r.body.find("user_id/u1"), std::string::npos);
  EXPECT_NE(r.body.find("\nfacet_events_accepted_total 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("facet_http_request_duration_seconds_bucket{route=\"/v1/track\",le=\"+Inf\"} 1"),
            std::string::npos);
}

// ---------------------------------------------------------------------------
// Tags and segments

constexpr TimeMs kDay = 24 * 3600 * 1000;

json IdentifyItem(std::string_view user, json traits, TimeMs at) {
  return {{"type", "identify"}, {"userId", user}, {"traits", std::move(traits)},
          {"timestamp", FormatIso8601(at)}};
}

json OrderItem(std::string_view user, double revenue, TimeMs at) {
  return {{"type", "track"}, {"userId", user}, {"event", "Order Completed"},
          {"properties", {{"revenue", revenue}}}, {"timestamp", FormatIso8601(at)}};
}

// u1 (佛山, two orders, an email), u2 (广州, one old order), u3 (佛山, none).
void SendAudienceData(Client& c) {
  json batch = json::array({IdentifyItem("u1", {{"city", "佛山"}, {"age", 30}, {"email", "Li.Lei@Example.com"}}, kNow - 20 * kDay),
                            IdentifyItem("u2", {{"city", "广州"}, {"age", 41}}, kNow - 50 * kDay),
                            IdentifyItem("u3", {{"city", "佛山"}}, kNow - 5 * kDay),
                            OrderItem("u1", 100, kNow - 2 * kDay), OrderItem("u1", 300, kNow - 10 * kDay),
                            OrderItem("u2", 50, kNow - 40 * kDay)});
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
  r = c.Admin(http::verb::put, "/v1/tags/%E4%BD%9B%E5%B1%B1",
              {{"display_name", "佛山用户"}, {"parent", "region"}, {"owner", "ops"},
               {"rule", "trait.city = \"佛山\""}});
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
  ASSERT_EQ(c.Admin(http::verb::put, "/v1/tags/rich", {{"rule", "sum(\"Order Completed\", properties.revenue) > 10"}}).status, 200);
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

  r = c.Admin(http::verb::post, "/v1/segments/preview", {{"expression", "trait.city IS NOT NULL"}, {"breakdown", "trait.age"}});
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
            std::string::npos) << r.body;
  EXPECT_EQ(c.Get("/v1/tags/foshan/members?format=xml").status, 400);
  r = c.Get("/v1/tags/foshan/members?limit=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.body, "person_id,user_id\r\n" + std::to_string(std::min(u1, u3)) + "," + (u1 < u3 ? "u1" : "u3") + "\r\n");

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
    batch.push_back(IdentifyItem("e" + std::to_string(i), {{"city", "c" + std::to_string(i % 7)}, {"age", i}},
                                 kNow - kDay));
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
  r = old.Send(http::verb::get, "/v1/segments/everyone/members?traits=city,age", "",
               {{"Authorization", kBearerAdmin}}, /*chunked=*/false, /*version=*/10);
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
            std::string::npos) << r.body;
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
