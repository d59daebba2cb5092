#include "segments/value.h"

#include <limits>
#include <string>

#include "simdjson.h"

namespace facet::segments {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Texts up to this size are copied into a padded buffer kept per thread;
// longer ones into one of their own, so that a rare large value does not
// pin its memory in the thread.
constexpr size_t kMaxReusedTextBytes = 64 * 1024;

// Parses `json` with the thread's parser. simdjson reads up to
// SIMDJSON_PADDING bytes past the end, hence the copy; the document keeps
// its own copy of strings, so the text need not outlive the call.
simdjson::error_code Parse(std::string_view json, element* out) {
  if (json.size() > kMaxReusedTextBytes) {
    simdjson::padded_string padded(json);
    return Parser().parse(padded).get(*out);
  }
  thread_local std::string padded;
  padded.assign(json);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  return Parser().parse(padded.data(), json.size(), false).get(*out);
}

std::optional<Literal> ScalarLiteral(element e) {
  switch (e.type()) {
    case element_type::INT64:
      return Literal(static_cast<double>(int64_t(e)));
    case element_type::UINT64:
      return Literal(static_cast<double>(uint64_t(e)));
    case element_type::DOUBLE:
      return Literal(double(e));
    case element_type::STRING:
      return Literal(std::string(std::string_view(e)));
    case element_type::BOOL:
      return Literal(bool(e));
    default:
      return std::nullopt;
  }
}

// `array_storage` keeps an array's elements alive for the callback.
Value FromElement(element e, std::string* object_text, std::vector<Literal>* array_storage) {
  switch (e.type()) {
    case element_type::INT64:
      return Value::Number(static_cast<double>(int64_t(e)));
    case element_type::UINT64:
      return Value::Number(static_cast<double>(uint64_t(e)));
    case element_type::DOUBLE:
      return Value::Number(double(e));
    case element_type::STRING:
      return Value::String(std::string_view(e));
    case element_type::BOOL:
      return Value::Bool(bool(e));
    case element_type::ARRAY: {
      array_storage->clear();
      for (element item : e.get_array()) {
        if (auto lit = ScalarLiteral(item)) array_storage->push_back(std::move(*lit));
      }
      Value v;
      v.kind = Value::Kind::kArray;
      v.array = array_storage;
      return v;
    }
    case element_type::OBJECT:
      *object_text = simdjson::minify(e);
      return Value::String(*object_text);
    default:
      return Value{};
  }
}

void Flatten(element obj, std::string& prefix, size_t depth_left,
             const std::function<void(std::string_view, const Value&)>& fn,
             const std::function<void(std::string_view)>* too_deep) {
  std::string object_text;
  std::vector<Literal> array_storage;
  for (auto field : obj.get_object()) {
    size_t len = prefix.size();
    if (!prefix.empty()) prefix += '.';
    prefix.append(field.key.data(), field.key.size());
    fn(prefix, FromElement(field.value, &object_text, &array_storage));
    if (field.value.type() == element_type::OBJECT) {
      if (depth_left > 1) {
        Flatten(field.value, prefix, depth_left - 1, fn, too_deep);
      } else if (too_deep && field.value.get_object().value_unsafe().size() > 0) {
        (*too_deep)(prefix);
      }
    }
    prefix.resize(len);
  }
}

bool LiteralEquals(const Literal& a, const Literal& b) { return a == b; }

}  // namespace

bool ValueEquals(const Value& v, const Literal& lit) {
  switch (v.kind) {
    case Value::Kind::kNumber: {
      auto* l = std::get_if<double>(&lit);
      return l && v.number == *l;
    }
    case Value::Kind::kString: {
      auto* l = std::get_if<std::string>(&lit);
      return l && v.string == *l;
    }
    case Value::Kind::kBool: {
      auto* l = std::get_if<bool>(&lit);
      return l && v.boolean == *l;
    }
    default:
      return false;
  }
}

int ValueCompare(const Value& v, const Literal& lit) {
  if (v.kind == Value::Kind::kNumber) {
    auto* l = std::get_if<double>(&lit);
    if (!l) return kIncomparable;
    return v.number < *l ? -1 : (v.number > *l ? 1 : 0);
  }
  if (v.kind == Value::Kind::kString) {
    auto* l = std::get_if<std::string>(&lit);
    if (!l) return kIncomparable;
    int c = v.string.compare(*l);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return kIncomparable;
}

bool MatchCompare(const Value& v, CompareOp op, const Literal& lit) {
  if (v.is_null()) return false;
  switch (op) {
    case CompareOp::kEq:
      return ValueEquals(v, lit);
    case CompareOp::kNe:
      return !ValueEquals(v, lit);
    default:
      break;
  }
  const int c = ValueCompare(v, lit);
  if (c == kIncomparable) return false;
  switch (op) {
    case CompareOp::kLt:
      return c < 0;
    case CompareOp::kLe:
      return c <= 0;
    case CompareOp::kGt:
      return c > 0;
    case CompareOp::kGe:
      return c >= 0;
    default:
      return false;
  }
}

bool MatchBetween(const Value& v, const Literal& lo, const Literal& hi, bool negated) {
  const int a = ValueCompare(v, lo);
  const int b = ValueCompare(v, hi);
  if (a == kIncomparable || b == kIncomparable) return false;
  bool inside = a >= 0 && b <= 0;
  return negated ? !inside : inside;
}

bool MatchIn(const Value& v, const std::vector<Literal>& list, bool negated) {
  if (v.is_null()) return false;
  bool found = false;
  for (const Literal& l : list) {
    if (ValueEquals(v, l)) {
      found = true;
      break;
    }
  }
  return negated ? !found : found;
}

bool MatchContains(const Value& v, const Literal& needle, bool negated) {
  bool found = false;
  if (v.kind == Value::Kind::kArray) {
    for (const Literal& l : *v.array) {
      if (LiteralEquals(l, needle)) {
        found = true;
        break;
      }
    }
  } else if (v.kind == Value::Kind::kString) {
    auto* n = std::get_if<std::string>(&needle);
    found = n && v.string.find(*n) != std::string_view::npos;
  } else if (v.is_null()) {
    return false;
  } else {
    return negated;  // present, and contains nothing
  }
  return negated ? !found : found;
}

void WithJsonValue(std::string_view json, const std::function<void(const Value&)>& fn) {
  element e;
  if (Parse(json, &e) != simdjson::SUCCESS) return fn(Value{});
  std::string object_text;
  std::vector<Literal> array_storage;
  fn(FromElement(e, &object_text, &array_storage));
}

void FlattenJsonObject(std::string_view json, const std::function<void(std::string_view, const Value&)>& fn) {
  FlattenJsonObject(json, std::numeric_limits<size_t>::max(), fn, {});
}

void FlattenJsonObject(std::string_view json, size_t max_depth,
                       const std::function<void(std::string_view, const Value&)>& fn,
                       const std::function<void(std::string_view)>& too_deep) {
  if (max_depth == 0) return;
  element e;
  if (Parse(json, &e) != simdjson::SUCCESS) return;
  if (e.type() != element_type::OBJECT) return;
  std::string prefix;
  Flatten(e, prefix, max_depth, fn, too_deep ? &too_deep : nullptr);
}

}  // namespace facet::segments
