// Small JSON text helpers for building Segment messages without a DOM.
#pragma once

#include <string>
#include <string_view>

#include "base/json_string.h"

namespace facet::importer::internal {

// String literals: base/json_string.h.
using facet::AppendJsonString;
using facet::JsonString;

// Whether `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// Re-encodes ISO-8859-1 text as UTF-8.
std::string Latin1ToUtf8(std::string_view s);

// Whether `s` is a number as JSON writes it (no leading '+', no "inf", ...).
bool IsJsonNumber(std::string_view s);

// The shortest text that reads back as `v` ("2.55", "15", "-0.5"); `v` must
// be finite. Negative zero is written as 0.
std::string FormatDouble(double v);

// `v` rounded half away from zero to `decimals` places (-1 = unchanged).
double RoundTo(double v, int decimals);

}  // namespace facet::importer::internal
