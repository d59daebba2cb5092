// Concatenation of text and integers into a std::string. (The system
// Abseil's absl::StrCat takes its own absl::string_view, which does not mix
// with std::string_view.)
//
//   std::string m = Cat("tag '", name, "' has ", n, " members");
//   Append(&out, ", ", key);
#pragma once

#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace facet {

inline void AppendPiece(std::string* out, std::string_view s) { out->append(s); }
inline void AppendPiece(std::string* out, const std::string& s) { out->append(s); }
inline void AppendPiece(std::string* out, const char* s) { out->append(s); }
inline void AppendPiece(std::string* out, absl::string_view s) { out->append(s.data(), s.size()); }
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) void AppendPiece(std::string* out, T v) {
  out->append(std::to_string(v));
}

// Concatenates strings and integers.
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPiece(&out, args), ...);
  return out;
}
template <typename... Args>
void Append(std::string* out, const Args&... args) {
  (AppendPiece(out, args), ...);
}

}  // namespace facet
