#include "ingest/internal/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace facet::ingest::internal {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

template <typename T>
void AppendChars(T value, std::string& out) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, res.ptr);
}

void AppendDouble(double d, std::string& out) {
  // JSON has no NaN or infinity and simdjson never produces them.
  AppendChars(d, out);
}

}  // namespace

void AppendJson(element e, std::string& out) {
  switch (e.type()) {
    case element_type::OBJECT: {
      const simdjson::dom::object obj = e.get_object().value_unsafe();
      out.push_back('{');
      bool first = true;
      for (const auto member : obj) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(&out, member.key);
        out.push_back(':');
        AppendJson(member.value, out);
      }
      out.push_back('}');
      return;
    }
    case element_type::ARRAY: {
      const simdjson::dom::array arr = e.get_array().value_unsafe();
      out.push_back('[');
      bool first = true;
      for (const element v : arr) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(v, out);
      }
      out.push_back(']');
      return;
    }
    case element_type::STRING:
      AppendJsonString(&out, e.get_string().value_unsafe());
      return;
    case element_type::INT64:
      AppendChars(e.get_int64().value_unsafe(), out);
      return;
    case element_type::UINT64:
      AppendChars(e.get_uint64().value_unsafe(), out);
      return;
    case element_type::DOUBLE:
      AppendDouble(e.get_double().value_unsafe(), out);
      return;
    case element_type::BOOL:
      out.append(e.get_bool().value_unsafe() ? "true" : "false");
      return;
    case element_type::NULL_VALUE:
      out.append("null");
      return;
  }
}

std::string JsonText(element e) {
  std::string out;
  AppendJson(e, out);
  return out;
}

std::optional<std::string> NumberText(element e) {
  std::string out;
  switch (e.type()) {
    case element_type::INT64:
      AppendChars(e.get_int64().value_unsafe(), out);
      return out;
    case element_type::UINT64:
      AppendChars(e.get_uint64().value_unsafe(), out);
      return out;
    case element_type::DOUBLE: {
      const double d = e.get_double().value_unsafe();
      if (std::trunc(d) == d && std::fabs(d) < 9.2e18) {
        AppendChars(static_cast<int64_t>(d), out);
      } else {
        AppendDouble(d, out);
      }
      return out;
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> NumberValue(element e) {
  switch (e.type()) {
    case element_type::INT64:
      return static_cast<double>(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return static_cast<double>(e.get_uint64().value_unsafe());
    case element_type::DOUBLE:
      return e.get_double().value_unsafe();
    default:
      return std::nullopt;
  }
}

std::string_view TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of a sequence.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace facet::ingest::internal
