#include "ingest/internal/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

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

// True if one of the eight bytes of `x` is a control character, '"' or
// '\\'. Exact as a whole; borrows between bytes can only misplace which
// byte matched, and that is not used.
bool MayNeedEscape(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
  return (below_space | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'))) != 0;
}

void AppendDouble(double d, std::string& out) {
  // JSON has no NaN or infinity and simdjson never produces them.
  AppendChars(d, out);
}

}  // namespace

void AppendJsonString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    // Skip eight bytes at a time while none of them needs escaping.
    while (i + 8 <= s.size()) {
      uint64_t chunk;
      std::memcpy(&chunk, s.data() + i, 8);
      if (MayNeedEscape(chunk)) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendJson(element e, std::string& out) {
  switch (e.type()) {
    case element_type::OBJECT: {
      const simdjson::dom::object obj = e.get_object().value_unsafe();
      out.push_back('{');
      bool first = true;
      for (const auto member : obj) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(member.key, out);
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
      AppendJsonString(e.get_string().value_unsafe(), out);
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
