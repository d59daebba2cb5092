// HttpClient: a blocking HTTP/1.1 client over one keep-alive connection, for
// Facet's own tools (import, demo, benchmarks).
//
//   ASSIGN_OR_RETURN(auto c, HttpClient::Connect("http://127.0.0.1:8080"));
//   HttpRequest req{.method = "POST", .target = "/v1/batch", .body = json};
//   req.headers.push_back({"Authorization", BasicAuth(write_key, "")});
//   ASSIGN_OR_RETURN(HttpResponse r, c->Send(req));
//
// Thread-safety: one HttpClient per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace facet::client {

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  bool gzip = false;  // compress the body and send Content-Encoding: gzip
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpClient {
 public:
  // Parses `base_url` ("http://host:port", no path) and connects.
  // InvalidArgument for a bad URL, Unavailable when the connection fails.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Connect(std::string_view base_url);
  virtual ~HttpClient() = default;

  // Sends one request and reads the whole response. Reconnects once if the
  // kept-alive connection was closed by the server. Unavailable on network
  // errors, DeadlineExceeded after `timeout_ms` (default 30 s).
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
  virtual void set_timeout_ms(int timeout_ms) = 0;
};

// "Basic base64(user:password)".
std::string BasicAuth(std::string_view user, std::string_view password);

// gzip-compresses `data` (for Content-Encoding: gzip).
std::string Gzip(std::string_view data);

}  // namespace facet::client
