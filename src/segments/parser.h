// Parse(): segment-language text -> syntax tree (ast.h). The grammar is in
// docs/segment-language.md.
//
//   ParseError err;
//   absl::StatusOr<Expr> e = Parse(R"(count("Order Completed", 90d) >= 2)", &err);
//   if (!e.ok()) { /* err.line, err.column, err.message */ }
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "segments/ast.h"

namespace facet::segments {

struct ParseError {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in characters (UTF-8 code points) of that line
  // What was expected and what was found, e.g.
  // "expected ')' to close count(, found end of input".
  std::string message;
};

// Parses `text`. InvalidArgument on error, with the message
// "line L, column C: <message>"; `error` (optional) receives the parts.
absl::StatusOr<Expr> Parse(std::string_view text, ParseError* error = nullptr);

}  // namespace facet::segments
