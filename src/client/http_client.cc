#include "client/http_client.h"

#include <zlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "base/status.h"

namespace facet::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr int kDefaultTimeoutMs = 30'000;

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

struct ParsedUrl {
  std::string host;
  std::string port;
  std::string host_header;  // "host:port" as sent in the Host header
};

absl::StatusOr<ParsedUrl> ParseBaseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(Cat({"unsupported URL '", url, "': only http://host:port is supported"}));
  }
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(Cat({"bad URL '", url, "': expected http://host:port without a path"}));
  }
  ParsedUrl out;
  std::string_view port;
  if (rest.front() == '[') {  // IPv6 literal: [::1]:8080
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(Cat({"bad URL '", url, "': unclosed '['"}));
    }
    out.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(Cat({"bad URL '", url, "'"}));
      }
      port = after.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      out.host = std::string(rest);
    } else {
      out.host = std::string(rest.substr(0, colon));
      port = rest.substr(colon + 1);
    }
  }
  if (out.host.empty()) {
    return absl::InvalidArgumentError(Cat({"bad URL '", url, "': empty host"}));
  }
  if (port.empty()) {
    out.port = "80";
  } else {
    uint32_t n = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535) {
      return absl::InvalidArgumentError(Cat({"bad URL '", url, "': bad port"}));
    }
    out.port = std::string(port);
  }
  const bool v6 = out.host.find(':') != std::string::npos;
  out.host_header = v6 ? Cat({"[", out.host, "]:", out.port}) : Cat({out.host, ":", out.port});
  return out;
}

// A network failure, with enough detail to decide whether a retry on a fresh
// connection is safe.
struct IoError {
  beast::error_code ec;
  const char* what;
};

absl::Status ToStatus(const IoError& e, const ParsedUrl& url) {
  const std::string msg = Cat({e.what, " ", url.host_header, ": ", e.ec.message()});
  if (e.ec == beast::error::timeout) return absl::DeadlineExceededError(msg);
  return absl::UnavailableError(msg);
}

// True for the errors a server's close of an idle kept-alive connection
// produces on the next request.
bool IsStaleConnection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == asio::error::not_connected ||
         ec == http::error::partial_message;
}

class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(ParsedUrl url) : url_(std::move(url)), stream_(ioc_) {}

  ~BeastHttpClient() override { Close(); }

  absl::Status Open() {
    beast::error_code ec;
    if (endpoints_.empty()) {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(url_.host, url_.port, ec);
      if (ec) return absl::UnavailableError(Cat({"resolving ", url_.host, ": ", ec.message()}));
      endpoints_.assign(results.begin(), results.end());
    }
    stream_.expires_after(std::chrono::milliseconds(timeout_ms_));
    std::optional<beast::error_code> done;
    stream_.async_connect(endpoints_, [&](beast::error_code e, const tcp::endpoint&) { done = e; });
    Run();
    if (!done.has_value()) return absl::InternalError("connect did not complete");
    if (*done) {
      stream_.close();
      return ToStatus({*done, "connecting to"}, url_);
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);
    connected_ = true;
    return absl::OkStatus();
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    http::request<http::string_body> req;
    RETURN_IF_ERROR(BuildRequest(request, &req));
    try {
      const bool reused = connected_;
      if (!connected_) RETURN_IF_ERROR(Open());
      HttpResponse response;
      std::optional<IoError> err = RoundTrip(req, &response);
      if (err.has_value() && reused && IsStaleConnection(err->ec)) {
        // The server closed the idle connection; the request never reached
        // it, so one retry on a fresh connection is safe.
        Close();
        RETURN_IF_ERROR(Open());
        response = HttpResponse{};
        err = RoundTrip(req, &response);
      }
      if (err.has_value()) {
        Close();
        return ToStatus(*err, url_);
      }
      return response;
    } catch (const std::exception& e) {
      Close();
      return absl::InternalError(Cat({"http request to ", url_.host_header, ": ", e.what()}));
    }
  }

  void set_timeout_ms(int timeout_ms) override { timeout_ms_ = timeout_ms > 0 ? timeout_ms : kDefaultTimeoutMs; }

 private:
  absl::Status BuildRequest(const HttpRequest& in, http::request<http::string_body>* out) {
    const http::verb verb = http::string_to_verb(in.method);
    if (verb == http::verb::unknown) {
      return absl::InvalidArgumentError(Cat({"unknown HTTP method '", in.method, "'"}));
    }
    if (in.target.empty() || in.target.front() != '/') {
      return absl::InvalidArgumentError(Cat({"bad request target '", in.target, "'"}));
    }
    out->method(verb);
    out->target(in.target);
    out->version(11);
    out->set(http::field::host, url_.host_header);
    out->set(http::field::user_agent, "facet-client");
    out->keep_alive(true);
    for (const auto& [name, value] : in.headers) out->insert(name, value);
    if (!in.body.empty() || verb == http::verb::post || verb == http::verb::put || verb == http::verb::patch) {
      if (!in.content_type.empty()) out->set(http::field::content_type, in.content_type);
      if (in.gzip) {
        out->set(http::field::content_encoding, "gzip");
        out->body() = Gzip(in.body);
      } else {
        out->body() = in.body;
      }
    }
    out->prepare_payload();
    return absl::OkStatus();
  }

  // Writes `req` and reads the response into `out`. Returns the failure, if any.
  std::optional<IoError> RoundTrip(http::request<http::string_body>& req, HttpResponse* out) {
    std::optional<beast::error_code> done;
    stream_.expires_after(std::chrono::milliseconds(timeout_ms_));
    http::async_write(stream_, req, [&](beast::error_code e, size_t) { done = e; });
    Run();
    if (!done.has_value()) return IoError{asio::error::operation_aborted, "writing to"};
    if (*done) return IoError{*done, "writing to"};

    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    done.reset();
    stream_.expires_after(std::chrono::milliseconds(timeout_ms_));
    http::async_read(stream_, buffer_, parser, [&](beast::error_code e, size_t) { done = e; });
    Run();
    if (!done.has_value()) return IoError{asio::error::operation_aborted, "reading from"};
    if (*done) return IoError{*done, "reading from"};

    http::response<http::string_body> res = parser.release();
    out->status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out->body = std::move(res.body());
    if (!res.keep_alive()) Close();
    return std::nullopt;
  }

  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  void Close() {
    if (!connected_) return;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  ParsedUrl url_;
  asio::io_context ioc_{1};
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::vector<tcp::endpoint> endpoints_;
  bool connected_ = false;
  int timeout_ms_ = kDefaultTimeoutMs;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Connect(std::string_view base_url) {
  ASSIGN_OR_RETURN(ParsedUrl url, ParseBaseUrl(base_url));
  auto client = std::make_unique<BeastHttpClient>(std::move(url));
  try {
    RETURN_IF_ERROR(client->Open());
  } catch (const std::exception& e) {
    return absl::UnavailableError(Cat({"connecting to ", base_url, ": ", e.what()}));
  }
  return std::unique_ptr<HttpClient>(std::move(client));
}

std::string BasicAuth(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string plain;
  plain.reserve(user.size() + 1 + password.size());
  plain.append(user).append(":").append(password);
  std::string out = "Basic ";
  out.reserve(out.size() + (plain.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= plain.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(plain[i])) << 16) | (uint32_t(uint8_t(plain[i + 1])) << 8) | uint32_t(uint8_t(plain[i + 2]));
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rem = plain.size() - i;
  if (rem > 0) {
    uint32_t v = uint32_t(uint8_t(plain[i])) << 16;
    if (rem == 2) v |= uint32_t(uint8_t(plain[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rem == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16 selects the gzip wrapper rather than raw zlib.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::string();
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  while (rc == Z_OK || rc == Z_BUF_ERROR) {  // deflateBound was not enough
    const size_t used = out.size() - zs.avail_out;
    out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = static_cast<uInt>(out.size() - used);
    rc = deflate(&zs, Z_FINISH);
  }
  out.resize(rc == Z_STREAM_END ? zs.total_out : 0);
  deflateEnd(&zs);
  return out;
}

}  // namespace facet::client
