// The status line and header of an HTTP/1.x response with a body of known
// length, written as bytes in one pass: the ingest endpoints answer tens of
// thousands of small requests per second, and a generic serializer costs
// more than the few lines it writes.
//
//   std::string head;
//   AppendResponseHead({.status = 200, .version = 11, .keep_alive = true,
//                       .content_type = "application/json", .headers = h},
//                      body.size(), &head);
//
// Names and values are written as given, less any CR or LF (so that no
// value can start a header of its own).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace facet::api::internal {

struct ResponseHead {
  int status = 200;
  unsigned version = 11;  // 10 or 11
  bool keep_alive = true;
  std::string_view content_type{};  // empty: no Content-Type
  std::span<const std::pair<std::string, std::string>> headers{};
};

// Appends to *out the head of `head` for a body of `body_size` bytes, ending
// with the blank line. Content-Length is left out for 1xx, 204 and 304,
// whose responses have no body. Connection says "close" (HTTP/1.1) or
// "keep-alive" (HTTP/1.0) when that is not the version's default.
void AppendResponseHead(const ResponseHead& head, size_t body_size, std::string* out);

// Whether a response with this status carries no body (1xx, 204, 304).
bool StatusHasNoBody(int status);

}  // namespace facet::api::internal
