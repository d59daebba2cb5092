#include "importer/importer.h"
#include "importer/progress.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace facet::importer {
namespace {

using nlohmann::json;

// An in-process stand-in for the server's POST /v1/batch: stores events by
// messageId, quarantines events whose userId is "bad", and can be told to
// answer the next requests with given codes.
class FakeServer {
 public:
  client::HttpResponse Handle(const client::HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_;
    auth_ = FindHeader(req, "Authorization");
    if (!forced_.empty()) {
      auto [code, body] = forced_.front();
      forced_.pop_front();
      if (code == 400 && body.empty()) body = BadRequestFor(req.body);
      if (code != 0) return {code, body, {}};
    }
    json doc = json::parse(req.body);
    json quarantined = json::array();
    size_t accepted = 0, duplicates = 0;
    if (doc["batch"].size() > max_events_) return {413, R"({"error":"too large"})", {}};
    for (size_t i = 0; i < doc["batch"].size(); ++i) {
      const json& e = doc["batch"][i];
      if (e.value("userId", "") == "bad") {
        quarantined.push_back(
            {{"index", i}, {"field", "batch[" + std::to_string(i) + "].userId"}, {"error", "bad user"}});
        continue;
      }
      if (stored_.insert(e["messageId"].get<std::string>()).second) {
        ++accepted;
        events_.push_back(e);
      } else {
        ++duplicates;
      }
    }
    json reply = {{"success", true}, {"accepted", accepted}, {"duplicates", duplicates}, {"quarantined", quarantined}};
    return {200, reply.dump(), {}};
  }

  void Force(int code, std::string body = "") {
    std::lock_guard<std::mutex> lock(mu_);
    forced_.push_back({code, std::move(body)});
  }
  std::vector<json> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string auth() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_;
  }
  size_t max_events_ = 1000000;

 private:
  static std::string FindHeader(const client::HttpRequest& req, const std::string& name) {
    for (const auto& [k, v] : req.headers) {
      if (k == name) return v;
    }
    return "";
  }
  // A 400 naming the first event of the batch as invalid.
  static std::string BadRequestFor(const std::string& body) {
    return json({{"error", "invalid events"},
                 {"errors", {{{"index", 0}, {"field", "batch[0].event"}, {"error", "no"}}}}})
        .dump();
  }

  std::mutex mu_;
  std::deque<std::pair<int, std::string>> forced_;
  std::set<std::string> stored_;
  std::vector<json> events_;
  int requests_ = 0;
  std::string auth_;
};

class FakeClient final : public client::HttpClient {
 public:
  explicit FakeClient(FakeServer* server) : server_(server) {}
  absl::StatusOr<client::HttpResponse> Send(const client::HttpRequest& request) override {
    client::HttpResponse r = server_->Handle(request);
    if (r.status == -1) return absl::UnavailableError("connection reset");
    return r;
  }
  void set_timeout_ms(int) override {}

 private:
  FakeServer* server_;
};

class ImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/importer_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_.connect = [this]() -> absl::StatusOr<std::unique_ptr<client::HttpClient>> {
      return std::unique_ptr<client::HttpClient>(new FakeClient(&server_));
    };
    env_.summary = nullptr;
    env_.progress = nullptr;
    options_.write_key = "wk";
    options_.retry_initial_ms = 1;
    options_.retry_max_ms = 2;
    options_.max_attempts = 3;
    options_.reject_path = dir_ + "/rejects.csv";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  FakeServer server_;
  ImportEnvironment env_;
  ImportOptions options_;
};

constexpr char kMapping[] = R"(
event: Signed Up
user_id: id
message_id: "signup-{id}"
properties:
  age: {column: age, type: int}
)";

TEST_F(ImporterTest, ImportsRowsRejectsBadOnesAndDeduplicatesOnReRun) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,age\nu1,30\nu2,abc\nu3,41\nu4,\nu5,7\n")};
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_read, 5u);
  EXPECT_EQ(s->rows_imported, 4u);
  EXPECT_EQ(s->rows_rejected, 1u);
  EXPECT_EQ(s->events_sent, 4u);
  EXPECT_EQ(s->events_accepted, 4u);
  EXPECT_EQ(s->reject_path, options_.reject_path);
  EXPECT_EQ(Read(options_.reject_path), "line,reason,raw\n3,\"age: \"\"abc\"\" is not an integer\",\"u2,abc\"\n");
  EXPECT_EQ(server_.auth(), client::BasicAuth("wk", ""));
  ASSERT_EQ(server_.events().size(), 4u);
  EXPECT_EQ(server_.events()[0]["properties"]["age"], 30);

  // The second run fixes nothing, so its reject file says the same.
  absl::StatusOr<ImportSummary> again = RunImport(options_, env_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Read(options_.reject_path), "line,reason,raw\n3,\"age: \"\"abc\"\" is not an integer\",\"u2,abc\"\n");
  EXPECT_EQ(again->events_accepted, 0u);
  EXPECT_EQ(again->events_duplicate, 4u);
  EXPECT_EQ(again->rows_imported, 4u);
  EXPECT_EQ(server_.events().size(), 4u);
}

TEST_F(ImporterTest, AReRunWithoutRejectsRemovesTheOldRejectFile) {
  options_.mapping_path = Write("m.yaml", kMapping);
  Write("rejects.csv", "line,reason,raw\n9,old,x\n");
  options_.inputs = {Write("users.csv", "id,age\nu1,30\n")};
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->reject_path.empty());
  EXPECT_FALSE(std::ifstream(options_.reject_path).good());
}

TEST_F(ImporterTest, ServerQuarantineRejectsTheRowsWithTheServersReason) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,age\nu1,1\nbad,2\nu3,3\n")};
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_imported, 2u);
  EXPECT_EQ(s->rows_rejected, 1u);
  EXPECT_EQ(s->events_quarantined, 1u);
  EXPECT_EQ(Read(options_.reject_path), "line,reason,raw\n3,refused by the server: userId: bad user,\"bad,2\"\n");
}

TEST_F(ImporterTest, RetriesServerErrorsAndLostConnections) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,age\nu1,1\nu2,2\n")};
  server_.Force(503, R"({"error":"store unavailable"})");
  server_.Force(-1);
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_imported, 2u);
  EXPECT_EQ(server_.requests(), 3);
  EXPECT_EQ(server_.events().size(), 2u);
}

TEST_F(ImporterTest, GivesUpAfterMaxAttemptsAndAccountsForEveryRow) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,age\nu1,1\nu2,2\nu3,x\n")};
  for (int i = 0; i < 3; ++i) server_.Force(500, R"({"error":"boom"})");
  std::FILE* summary = std::tmpfile();
  env_.summary = summary;
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(s.status().message()).find("boom"), std::string::npos) << s.status();
  std::rewind(summary);
  char buf[4096] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, summary);
  std::fclose(summary);
  std::string text(buf, n);
  EXPECT_NE(text.find("rows_read                       3"), std::string::npos) << text;
  EXPECT_NE(text.find("rows_rejected                   3"), std::string::npos) << text;
  std::string rejects = Read(options_.reject_path);
  EXPECT_NE(rejects.find("2,\"not sent: the import stopped: a batch failed 3 times in a row"), std::string::npos)
      << rejects;
}

TEST_F(ImporterTest, RefusedWriteKeyStopsTheImport) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,age\nu1,1\n")};
  server_.Force(401, R"({"error":"unknown write key"})");
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(std::string(s.status().message()), "the server refused the write key (HTTP 401): unknown write key");
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(ImporterTest, BadRequestRejectsTheNamedEventsAndResendsTheRest) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,age\nu1,1\nu2,2\nu3,3\n")};
  server_.Force(400);
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_imported, 2u);
  EXPECT_EQ(s->rows_rejected, 1u);
  EXPECT_EQ(Read(options_.reject_path), "line,reason,raw\n2,refused by the server: event: no,\"u1,1\"\n");
}

TEST_F(ImporterTest, TooLargeBatchesAreSplit) {
  options_.mapping_path = Write("m.yaml", kMapping);
  std::string csv = "id,age\n";
  for (int i = 0; i < 50; ++i) csv += "u" + std::to_string(i) + "," + std::to_string(i) + "\n";
  options_.inputs = {Write("users.csv", csv)};
  server_.max_events_ = 7;
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_imported, 50u);
  EXPECT_EQ(server_.events().size(), 50u);
}

TEST_F(ImporterTest, ManyBatchesOverSeveralConnections) {
  options_.mapping_path = Write("m.yaml", kMapping);
  std::string csv = "id,age\n";
  for (int i = 0; i < 5000; ++i) {
    csv += (i % 101 == 0 ? "bad" : "u" + std::to_string(i)) + "," + std::to_string(i % 90) + "\n";
  }
  options_.inputs = {Write("users.csv", csv)};
  options_.batch_size = 37;
  options_.connections = 4;
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_read, 5000u);
  EXPECT_EQ(s->rows_rejected, 50u);  // "bad" is quarantined
  EXPECT_EQ(s->rows_imported + s->rows_rejected, s->rows_read);
  EXPECT_EQ(s->events_sent, 5000u);
  EXPECT_EQ(server_.events().size(), 4950u);
}

TEST_F(ImporterTest, GroupedImportFromGzipAcrossTwoFiles) {
  options_.mapping_path = Write("m.yaml", R"(
event: Order Completed
user_id: customer
message_id: "order-{order}"
group_by:
  key: order
  items: {property: products, fields: {sku: sku, quantity: {column: qty, type: int}}}
  aggregates: {revenue: {sum_product: [qty, price]}}
)");
  std::string plain = "order,customer,sku,qty,price\n1,c1,A,2,1.25\n2,c2,B,1,10\n1,c1,C,1,0.5\n";
  gzFile gz = gzopen((dir_ + "/a.csv.gz").c_str(), "wb");
  gzwrite(gz, plain.data(), static_cast<unsigned>(plain.size()));
  gzclose(gz);
  // The second file has its columns in another order, and continues order 2.
  options_.inputs = {dir_ + "/a.csv.gz", Write("b.csv", "price,qty,sku,customer,order\n3,2,D,c2,2\n1,x,E,c2,2\n")};
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_read, 5u);
  EXPECT_EQ(s->rows_imported, 4u);
  EXPECT_EQ(s->rows_rejected, 1u);
  EXPECT_EQ(s->events_sent, 2u);
  std::vector<json> events = server_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["properties"]["revenue"].dump(), "3");
  EXPECT_EQ(events[0]["properties"]["products"].size(), 2u);
  EXPECT_EQ(events[1]["properties"]["revenue"].dump(), "16");
  EXPECT_EQ(Read(options_.reject_path),
            "line,reason,raw\nb.csv:3,\"qty: \"\"x\"\" is not an integer\",\"1,x,E,c2,2\"\n");
}

TEST_F(ImporterTest, MappingAndInputErrorsStopBeforeAnythingIsSent) {
  options_.mapping_path = Write("m.yaml", kMapping);
  options_.inputs = {Write("users.csv", "id,years\nu1,1\n")};
  absl::StatusOr<ImportSummary> s = RunImport(options_, env_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(s.status().message()).find("properties.age: column \"age\" is not in"), std::string::npos)
      << s.status();
  EXPECT_EQ(server_.requests(), 0);

  options_.inputs = {dir_ + "/missing.csv"};
  EXPECT_EQ(RunImport(options_, env_).status().code(), absl::StatusCode::kNotFound);
  options_.mapping_path = Write("bad.yaml", "event: A\n");
  options_.inputs = {Write("users.csv", "id,age\nu1,1\n")};
  EXPECT_EQ(RunImport(options_, env_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProgressTest, EstimatesTheTotalFromTheShareOfBytesRead) {
  ProgressState s{.rows_read = 1000, .rows_done = 500, .input_fraction = 0.25};
  // 1000 rows in a quarter of the bytes: about 4000 rows, 500 done in 5 s.
  EXPECT_EQ(Progress::Render(s, 5.0, /*bar=*/false), " 12%  500 rows  100 rows/s  ETA 0:35");
  EXPECT_EQ(Progress::Render(s, 5.0, /*bar=*/true).substr(0, 28), "[###.....................]  ");
  ProgressState done{.rows_read = 541909, .rows_done = 541909, .reading_done = true};
  EXPECT_EQ(Progress::Render(done, 65.0, false), "100%  541,909 rows  8,337 rows/s  done in 1:05");
}

}  // namespace
}  // namespace facet::importer
