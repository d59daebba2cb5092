// CSV output (RFC 4180): one field, quoted when it holds a comma, a quote or
// a line break, with quotes doubled.
#pragma once

#include <string>
#include <string_view>

namespace facet {

inline void AppendCsvField(std::string* out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace facet
