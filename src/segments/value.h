// Value: a trait or event-property value as the segment language sees it
// (null/missing, number, string, boolean, or an array of scalars), and the
// comparison rules of docs/segment-language.md.
//
// A Value does not own its string or array: they live in the PersonTable's
// pools (or, for FlattenJsonObject, in the parsed document during the call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "segments/ast.h"

namespace facet::segments {

struct Value {
  enum class Kind : uint8_t { kNull, kNumber, kString, kBool, kArray };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string_view string;                      // kString (an object: its JSON text)
  const std::vector<Literal>* array = nullptr;  // kArray (scalars only)

  static Value Number(double d) {
    Value v;
    v.kind = Kind::kNumber;
    v.number = d;
    return v;
  }
  static Value String(std::string_view s) {
    Value v;
    v.kind = Kind::kString;
    v.string = s;
    return v;
  }
  static Value Bool(bool b) {
    Value v;
    v.kind = Kind::kBool;
    v.boolean = b;
    return v;
  }
  bool is_null() const { return kind == Kind::kNull; }
};

// Equality of a value and a literal: same type and equal (numbers by value,
// strings byte-wise). False for null and arrays.
bool ValueEquals(const Value& v, const Literal& lit);

// Ordering of a value against a literal of the same type (numbers, or
// strings byte-wise): -1, 0, 1; kIncomparable otherwise. (A plain int:
// comparisons run hundreds of times per event.)
inline constexpr int kIncomparable = 2;
int ValueCompare(const Value& v, const Literal& lit);

// The predicates of comparison nodes on `v` (a null value selects nobody;
// != and NOT IN select present values that are not equal, of any type).
bool MatchCompare(const Value& v, CompareOp op, const Literal& lit);
bool MatchBetween(const Value& v, const Literal& lo, const Literal& hi, bool negated);
bool MatchIn(const Value& v, const std::vector<Literal>& list, bool negated);
bool MatchContains(const Value& v, const Literal& needle, bool negated);

// Calls fn(path, value) for every member of the JSON object `json`; nested
// objects give both the object (as its JSON text, a string) and, with dotted
// paths ("address.city"), each member. Arrays give their scalar elements.
// Values are valid only during the call. Malformed or non-object text calls
// nothing. Not reentrant: fn must not call it again.
void FlattenJsonObject(std::string_view json, const std::function<void(std::string_view path, const Value& value)>& fn);
// The same, down to paths of at most `max_depth` segments: an object at
// that depth is given as its JSON text only, and, when it has members,
// passed to `too_deep` (optional) as the path whose members are left out.
void FlattenJsonObject(std::string_view json, size_t max_depth,
                       const std::function<void(std::string_view path, const Value& value)>& fn,
                       const std::function<void(std::string_view path)>& too_deep);

// Parses one JSON value (a trait as stored) and calls fn with it, as
// FlattenJsonObject does for members; malformed text gives a null value.
void WithJsonValue(std::string_view json, const std::function<void(const Value& value)>& fn);

}  // namespace facet::segments
