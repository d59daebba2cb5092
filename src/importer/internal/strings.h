// String helpers over std::string_view. (The system Abseil has its own
// absl::string_view type, which does not mix with std::string_view.)
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/str_cat.h"

namespace facet::importer::internal {

// Concatenation: base/str_cat.h.
using facet::Append;
using facet::Cat;

inline bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// `s` without leading and trailing ASCII whitespace.
std::string_view Trim(std::string_view s);
void TrimInPlace(std::string* s);
std::string ToLower(std::string_view s);
void ToLowerInPlace(std::string* s);
void ToUpperInPlace(std::string* s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
inline bool StartsWith(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
inline bool EndsWith(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }
inline bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
// Splits on every `sep`; "a..b" gives "a", "", "b".
std::vector<std::string_view> Split(std::string_view s, char sep);
template <typename Range>
std::string Join(const Range& parts, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& p : parts) {
    if (!first) out.append(sep);
    first = false;
    AppendPiece(&out, p);
  }
  return out;
}
// Replaces every occurrence of `from` (non-empty) in `s` by `to`.
void ReplaceAll(std::string* s, std::string_view from, std::string_view to);

}  // namespace facet::importer::internal
