#include "client/http_client.h"

#include <zlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <string>

#include "client/testing/loopback_http_server.h"
#include "gtest/gtest.h"

namespace facet::client {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// An echo server: the response body is the request body; request details
// come back as X-Echo-* headers, and X-Connection numbers the accepted
// connections from 1. Targets:
//   /drop   answer, then close the connection without saying so
//   /close  answer with Connection: close
//   /hang   never answer (until the server stops)
class EchoServer : public testing::LoopbackHttpServer {
 public:
  EchoServer() : LoopbackHttpServer(&Echo) {}

 private:
  static After Echo(const Request& req, int connection, Response& res) {
    const std::string target(req.target());
    if (target == "/hang") return After::kHang;
    res.set("X-Connection", std::to_string(connection));
    res.set("X-Echo-Method", std::string(req.method_string()));
    res.set("X-Echo-Target", target);
    res.set("X-Echo-Authorization", std::string(req[http::field::authorization]));
    res.set("X-Echo-Content-Encoding", std::string(req[http::field::content_encoding]));
    res.set("X-Echo-Content-Type", std::string(req[http::field::content_type]));
    res.keep_alive(target != "/close" && req.keep_alive());
    res.body() = req.body();
    return target == "/drop" ? After::kDrop : After::kContinue;
  }
};

HttpRequest Get(std::string target) {
  HttpRequest req;
  req.target = std::move(target);
  return req;
}

HttpRequest Post(std::string target, std::string body) {
  HttpRequest req;
  req.method = "POST";
  req.target = std::move(target);
  req.body = std::move(body);
  return req;
}

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<missing>";
}

std::string Gunzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

TEST(HttpClientTest, EchoesPostBodyAndHeaders) {
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  HttpRequest req = Post("/v1/batch", R"({"batch":[]})");
  req.headers.push_back({"X-Custom", "1"});
  auto r = (*client)->Send(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"batch":[]})");
  EXPECT_EQ(Header(*r, "X-Echo-Method"), "POST");
  EXPECT_EQ(Header(*r, "X-Echo-Target"), "/v1/batch");
  EXPECT_EQ(Header(*r, "X-Echo-Content-Type"), "application/json");
}

TEST(HttpClientTest, ReusesKeptAliveConnection) {
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 5; ++i) {
    auto r = (*client)->Send(Get("/x"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Header(*r, "X-Connection"), "1");
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, ReconnectsOnceAfterServerDropsConnection) {
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  auto first = (*client)->Send(Get("/drop"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Header(*first, "X-Connection"), "1");
  auto second = (*client)->Send(Post("/y", "again"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, "again");
  EXPECT_EQ(Header(*second, "X-Connection"), "2");
}

TEST(HttpClientTest, ReconnectsAfterConnectionClose) {
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  auto first = (*client)->Send(Get("/close"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = (*client)->Send(Get("/z"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Header(*second, "X-Connection"), "2");
}

TEST(HttpClientTest, GzipBodyRoundTrips) {
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  std::string body;
  for (int i = 0; i < 2000; ++i) body += R"({"type":"track","event":"商品浏览","n":)" + std::to_string(i) + "}\n";
  HttpRequest req = Post("/v1/batch", body);
  req.gzip = true;
  auto r = (*client)->Send(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Header(*r, "X-Echo-Content-Encoding"), "gzip");
  EXPECT_LT(r->body.size(), body.size() / 4);
  EXPECT_EQ(Gunzip(r->body), body);
}

TEST(HttpClientTest, GzipOfEmptyInputIsValid) { EXPECT_EQ(Gunzip(Gzip("")), ""); }

TEST(HttpClientTest, SendsBasicAuth) {
  EXPECT_EQ(BasicAuth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(BasicAuth("wk", ""), "Basic d2s6");
  EXPECT_EQ(BasicAuth("ab", ""), "Basic YWI6");
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  HttpRequest req = Get("/a");
  req.headers.push_back({"Authorization", BasicAuth("write-key-1", "")});
  auto r = (*client)->Send(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Header(*r, "X-Echo-Authorization"), "Basic d3JpdGUta2V5LTE6");
}

TEST(HttpClientTest, TimesOutWithDeadlineExceeded) {
  EchoServer server;
  auto client = HttpClient::Connect(server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->set_timeout_ms(50);
  auto r = (*client)->Send(Get("/hang"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
}

TEST(HttpClientTest, RejectsBadUrls) {
  EXPECT_EQ(HttpClient::Connect("https://example.com").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpClient::Connect("http://127.0.0.1:8080/v1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpClient::Connect("http://127.0.0.1:99999").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpClient::Connect("127.0.0.1:8080").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  auto client = HttpClient::Connect("http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable) << client.status();
}

}  // namespace
}  // namespace facet::client
