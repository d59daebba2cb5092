// Compact JSON text from a simdjson DOM, written into caller-owned buffers so
// that the parser can reuse one buffer per request.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "base/json_string.h"

namespace facet::ingest::internal {

// String literals: facet::AppendJsonString (base/json_string.h).
using facet::AppendJsonString;

// Appends the compact JSON text of `e`: no insignificant whitespace, object
// members in document order, numbers in their shortest round-trip form.
void AppendJson(simdjson::dom::element e, std::string& out);

// Returns the compact JSON text of `e`.
std::string JsonText(simdjson::dom::element e);

// The decimal text of a JSON number: integers (including doubles with an
// integral value below 2^63 in magnitude) without a fraction, other doubles
// in their shortest round-trip form. nullopt if `e` is not a number.
std::optional<std::string> NumberText(simdjson::dom::element e);

// The value of a JSON number as a double; nullopt if `e` is not a number.
std::optional<double> NumberValue(simdjson::dom::element e);

// `s` cut to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view s, size_t max_bytes);

}  // namespace facet::ingest::internal
