// The API tests' harness: a real Server on a free loopback port over
// in-memory state (ApiServerTest), spoken to with a small Beast client
// (Client), and helpers building request bodies. Test files say
// `using namespace testing;` inside facet::api.
#pragma once

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

#include "base/time_format.h"
#include "identity/identity_graph.h"
#include "ingest/pipeline.h"
#include "profiles/profile_store.h"
#include "store/mem_kv_store.h"

namespace facet::api::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

inline constexpr TimeMs kNow = 1714552200000;  // 2024-05-01T08:30:00Z
inline constexpr size_t kMaxBody = 64 * 1024;
inline constexpr char kWriteKey[] = "wk_test";
inline constexpr char kAdminKey[] = "ak_test";
inline constexpr char kPiiKey[] = "ak_pii";  // an admin key that may export raw PII
// "Basic " + base64("wk_test:")
inline constexpr char kBasicWrite[] = "Basic d2tfdGVzdDo=";
inline constexpr char kBearerAdmin[] = "Bearer ak_test";

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

  Reply Send(http::verb method, std::string target, std::string body = "", Headers headers = {}, bool chunked = false,
             unsigned version = 11) {
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

  Reply Post(std::string target, std::string body, Headers headers = {{"Authorization", kBasicWrite}}) {
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

inline std::string Gzip(std::string_view data) {
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

inline std::string TrackBody(std::string_view user, std::string_view event, std::string_view message_id) {
  return json{{"userId", user}, {"event", event}, {"messageId", message_id}, {"properties", {{"revenue", 12.5}}}}
      .dump();
}

// One batch item: a track event with its type.
inline json TrackItem(std::string_view user, std::string_view event, std::string_view message_id) {
  json item = json::parse(TrackBody(user, event, message_id));
  item["type"] = "track";
  return item;
}

inline identity::IdentityOptions IdentityOptionsForTest() {
  identity::IdentityOptions o;
  o.hmac_key = "test-hmac-key";
  return o;
}

inline ingest::PipelineOptions PipelineOptionsForTest() {
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
    // The tests act as a back-end: the write key is a server write key.
    options.server_write_keys = {kWriteKey};
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

}  // namespace facet::api::testing
