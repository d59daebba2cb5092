// Tokens of the segment language (docs/segment-language.md). Used by the
// parser only.
//
//   std::vector<Token> tokens = Tokenize(R"(tag("vip") AND trait.age > 25)");
//   // kIdent kLParen kString kRParen kIdent kIdent kDot kIdent kGt kNumber kEnd
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "segments/ast.h"

namespace facet::segments::internal {

enum class TokenKind : uint8_t {
  kEnd,     // end of input, placed just after the last token; always the
            // last token unless there is a kError
  kError,   // a lexical error; always the last token. `value` holds the message
  kIdent,   // ASCII letters, digits and '_', not starting with a digit;
            // keywords are identifiers too (see IsKeyword)
  kString,  // "..." or '...'; `value` holds the decoded UTF-8 text
  kNumber,  // -?digits[.digits][e[+-]digits] followed directly by an optional
            // unit (letters, e.g. "d", "km"); `number` and `unit` hold the parts
  kLParen,
  kRParen,
  kComma,
  kDot,
  kEq,  // =
  kNe,  // != or <>
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;             // byte offset in the text (kError: where the error is)
  std::string_view text;         // the raw source text of the token
  std::string value;             // kString: decoded text; kError: the message
  double number = 0;             // kNumber
  std::string_view unit;         // kNumber: the letters right after the number, or ""
  std::string_view number_text;  // kNumber: `text` without the unit
};

// Splits `text` into tokens, skipping whitespace and `--` comments. Stops at
// the first lexical error (unterminated string, bad escape, invalid UTF-8,
// unexpected character, number out of range), which becomes the last token.
// The returned tokens point into `text`.
std::vector<Token> Tokenize(std::string_view text);

// True if `ident` is `keyword` (upper case) ignoring ASCII case.
bool IsKeyword(std::string_view ident, std::string_view keyword);

// The 1-based line and column of byte `offset` in `text`; columns count UTF-8
// code points.
SourcePos PosAt(std::string_view text, size_t offset);

// Decodes the UTF-8 code point at `s[i]`. Returns its length in bytes, or 0 if
// the bytes there are not valid UTF-8 (overlong, surrogate, truncated, ...).
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* code_point);

// Appends `code_point` (at most U+10FFFF, not a surrogate) as UTF-8.
void AppendUtf8(uint32_t code_point, std::string* out);

}  // namespace facet::segments::internal
