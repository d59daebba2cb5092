#include "demo/demo.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "client/testing/loopback_http_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace facet::demo {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr TimeMs kEnd = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// A stand-in for the ingest endpoint on 127.0.0.1:<ephemeral>: checks the
// write key, parses each batch and records its messageIds. The first
// `fail_first` requests get a 503 (and are not recorded); with
// `reject_all` every request gets a 400.
class FakeIngestServer {
 public:
  struct Behaviour {
    std::string write_key = "wk";
    int fail_first = 0;
    bool reject_all = false;
  };

  explicit FakeIngestServer(Behaviour b)
      : behaviour_(std::move(b)), server_([this](const Request& req, int, Response& res) {
          res.result(Handle(req));
          res.body() = "{}";
          return client::testing::LoopbackHttpServer::After::kContinue;
        }) {}

  std::string url() const { return server_.url(); }

  std::multiset<std::string> message_ids() {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }
  int requests() const { return requests_.load(); }

 private:
  using Request = client::testing::LoopbackHttpServer::Request;
  using Response = client::testing::LoopbackHttpServer::Response;

  http::status Handle(const Request& req) {
    const int n = ++requests_;
    if (req.target() != "/v1/batch") return http::status::not_found;
    if (req[http::field::authorization] != client::BasicAuth(behaviour_.write_key, "")) {
      return http::status::unauthorized;
    }
    if (n <= behaviour_.fail_first) return http::status::service_unavailable;
    if (behaviour_.reject_all) return http::status::bad_request;
    nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
    if (!body.is_object() || !body["batch"].is_array()) return http::status::bad_request;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : body["batch"]) ids_.insert(e["messageId"].get<std::string>());
    return http::status::ok;
  }

  Behaviour behaviour_;
  std::mutex mu_;
  std::multiset<std::string> ids_;
  std::atomic<int> requests_{0};
  // Last: its threads call Handle() until it is destroyed, first.
  client::testing::LoopbackHttpServer server_;
};

DemoOptions Options(const std::string& url) {
  DemoOptions o;
  o.url = url;
  o.write_key = "wk";
  o.persons = 300;
  o.seed = 9;
  o.end_ms = kEnd;
  o.connections = 3;
  o.batch_size = 50;
  o.progress = false;
  return o;
}

std::multiset<std::string> ExpectedIds(const DemoOptions& o) {
  std::multiset<std::string> ids;
  std::vector<std::string> events;
  for (uint64_t i = 0; i < o.persons; ++i) {
    events.clear();
    GeneratePerson(o.seed, i, o.end_ms, o.days, &events);
    for (const auto& e : events) ids.insert(nlohmann::json::parse(e)["messageId"].get<std::string>());
  }
  return ids;
}

TEST(RunDemoTest, SendsEveryEventOnceInBatches) {
  FakeIngestServer server({});
  const DemoOptions o = Options(server.url());
  auto summary = RunDemo(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const auto expected = ExpectedIds(o);
  EXPECT_EQ(server.message_ids(), expected);
  EXPECT_EQ(summary->persons, o.persons);
  EXPECT_EQ(summary->events, expected.size());
  EXPECT_EQ(summary->failed_requests, 0u);
  EXPECT_GE(summary->requests, expected.size() / 50);
  EXPECT_EQ(static_cast<int>(summary->requests), server.requests());
}

TEST(RunDemoTest, RetriesServerErrors) {
  FakeIngestServer server({.fail_first = 3});
  const DemoOptions o = Options(server.url());
  auto summary = RunDemo(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(server.message_ids(), ExpectedIds(o));
  EXPECT_EQ(server.requests(), static_cast<int>(summary->requests) + 3);
}

TEST(RunDemoTest, CountsRefusedBatches) {
  FakeIngestServer server({.reject_all = true});
  DemoOptions o = Options(server.url());
  o.persons = 20;
  auto summary = RunDemo(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GT(summary->failed_requests, 0u);
  EXPECT_EQ(summary->failed_requests, summary->requests);
  EXPECT_EQ(summary->events, 0u);
}

TEST(RunDemoTest, WrongWriteKeyIsPermissionDenied) {
  FakeIngestServer server({.write_key = "other"});
  auto summary = RunDemo(Options(server.url()));
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kPermissionDenied) << summary.status();
}

TEST(RunDemoTest, UnreachableServerIsUnavailable) {
  uint16_t port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  auto summary = RunDemo(Options("http://127.0.0.1:" + std::to_string(port)));
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kUnavailable) << summary.status();
}

TEST(RunDemoTest, RejectsBadOptions) {
  DemoOptions o = Options("http://127.0.0.1:1");
  o.write_key.clear();
  EXPECT_EQ(RunDemo(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options("http://127.0.0.1:1");
  o.batch_size = 0;
  EXPECT_EQ(RunDemo(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace facet::demo
