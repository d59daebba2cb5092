#include "api/internal/response_head.h"

#include <string>
#include <utility>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gtest/gtest.h"

namespace facet::api::internal {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string Head(const ResponseHead& head, size_t body_size) {
  std::string out;
  AppendResponseHead(head, body_size, &out);
  return out;
}

TEST(ResponseHeadTest, KeepAliveJsonResponse) {
  Headers h = {{"Access-Control-Allow-Origin", "*"}};
  const ResponseHead head{
      .status = 200, .version = 11, .keep_alive = true, .content_type = "application/json", .headers = h};
  EXPECT_EQ(Head(head, 15),
            "HTTP/1.1 200 OK\r\nServer: Facet\r\nContent-Type: application/json\r\n"
            "Access-Control-Allow-Origin: *\r\nContent-Length: 15\r\n\r\n");
}

TEST(ResponseHeadTest, ConnectionHeaderOnlyWhereTheVersionDefaultDiffers) {
  EXPECT_NE(Head({.status = 400, .version = 11, .keep_alive = false}, 0).find("Connection: close\r\n"),
            std::string::npos);
  EXPECT_EQ(Head({.status = 200, .version = 11, .keep_alive = true}, 0).find("Connection"), std::string::npos);
  EXPECT_NE(Head({.status = 200, .version = 10, .keep_alive = true}, 0).find("HTTP/1.0 200 OK\r\n"), std::string::npos);
  EXPECT_NE(Head({.status = 200, .version = 10, .keep_alive = true}, 0).find("Connection: keep-alive\r\n"),
            std::string::npos);
  EXPECT_EQ(Head({.status = 200, .version = 10, .keep_alive = false}, 0).find("Connection"), std::string::npos);
}

TEST(ResponseHeadTest, NoContentLengthWhereThereIsNoBody) {
  EXPECT_EQ(Head({.status = 204}, 0), "HTTP/1.1 204 No Content\r\nServer: Facet\r\n\r\n");
  EXPECT_TRUE(StatusHasNoBody(304));
  EXPECT_TRUE(StatusHasNoBody(100));
  EXPECT_FALSE(StatusHasNoBody(200));
  EXPECT_FALSE(StatusHasNoBody(404));
}

TEST(ResponseHeadTest, LineBreaksInNamesAndValuesAreDropped) {
  Headers h = {{"X-A\r\nEvil", "v\r\nSet-Cookie: x=1"}};
  const std::string head = Head({.status = 200, .content_type = "text/plain\r\nX: y", .headers = h}, 1);
  EXPECT_NE(head.find("X-AEvil: vSet-Cookie: x=1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/plainX: y\r\n"), std::string::npos) << head;
}

TEST(ResponseHeadTest, BeastParsesWhatIsWritten) {
  Headers h = {{"WWW-Authenticate", "Basic realm=\"facet\""}, {"Allow", "GET, POST"}};
  const std::string body = R"({"error":"unknown write key"})";
  std::string bytes;
  const ResponseHead head{
      .status = 401, .version = 11, .keep_alive = true, .content_type = "application/json", .headers = h};
  AppendResponseHead(head, body.size(), &bytes);
  bytes += body;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(bytes), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  const auto& m = parser.get();
  EXPECT_EQ(m.result_int(), 401);
  EXPECT_EQ(m.reason(), "Unauthorized");
  EXPECT_TRUE(m.keep_alive());
  EXPECT_EQ(m[boost::beast::http::field::www_authenticate], "Basic realm=\"facet\"");
  EXPECT_EQ(m[boost::beast::http::field::allow], "GET, POST");
  EXPECT_EQ(m[boost::beast::http::field::server], "Facet");
  EXPECT_EQ(m.body(), body);
}

}  // namespace
}  // namespace facet::api::internal
