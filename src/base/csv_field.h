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

// A CSV field that a spreadsheet will not run as a formula (OWASP's CSV
// injection advice): a field opening with '=', '+', '-', '@', a tab or a
// carriage return gets a leading apostrophe and is quoted. For text from
// outside (identifiers, trait values, trait names); numbers written by the
// caller need not go through it.
inline void AppendSpreadsheetCsvField(std::string* out, std::string_view field) {
  if (field.empty() || field.find_first_of("=+-@\t\r", 0) != 0) {
    AppendCsvField(out, field);
    return;
  }
  out->append("\"'");
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace facet
