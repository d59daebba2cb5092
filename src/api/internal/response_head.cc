#include "api/internal/response_head.h"

#include <ostream>  // needed by Boost 1.74's status.hpp

#include <boost/beast/http/status.hpp>

#include <charconv>

namespace facet::api::internal {
namespace {

void AppendClean(std::string_view s, std::string* out) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

void AppendNumber(uint64_t n, std::string* out) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out->append(digits, end);
}

}  // namespace

bool StatusHasNoBody(int status) { return status / 100 == 1 || status == 204 || status == 304; }

void AppendResponseHead(const ResponseHead& head, size_t body_size, std::string* out) {
  out->append(head.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(head.status), out);
  out->push_back(' ');
  const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(head.status));
  out->append(reason.data(), reason.size());
  out->append("\r\nServer: Facet\r\n");
  if (!head.content_type.empty()) {
    out->append("Content-Type: ");
    AppendClean(head.content_type, out);
    out->append("\r\n");
  }
  for (const auto& [name, value] : head.headers) {
    AppendClean(name, out);
    out->append(": ");
    AppendClean(value, out);
    out->append("\r\n");
  }
  if (head.version >= 11 && !head.keep_alive) out->append("Connection: close\r\n");
  if (head.version == 10 && head.keep_alive) out->append("Connection: keep-alive\r\n");
  if (!StatusHasNoBody(head.status)) {
    out->append("Content-Length: ");
    AppendNumber(body_size, out);
    out->append("\r\n");
  }
  out->append("\r\n");
}

}  // namespace facet::api::internal
