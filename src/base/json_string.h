// JSON string literals: the one escaper every module that writes JSON text
// by hand uses.
#pragma once

#include <string>
#include <string_view>

namespace facet {

// Appends `s` (valid UTF-8) as a JSON string literal, quotes included. Only
// '"', '\\' and control characters are escaped (\b \f \n \r \t by name, the
// others as \u00XX); other bytes, UTF-8 included, are copied.
void AppendJsonString(std::string* out, std::string_view s);

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

}  // namespace facet
