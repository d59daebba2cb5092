#include "importer/internal/bound_value.h"

#include <charconv>
#include <cmath>

#include "absl/status/status.h"
#include "importer/internal/json_text.h"
#include "importer/internal/strings.h"

namespace facet::importer::internal {
namespace {

std::string Quoted(std::string_view text) {
  constexpr size_t kMax = 60;
  if (text.size() <= kMax) return Cat("\"", text, "\"");
  return Cat("\"", text.substr(0, kMax), "...\"");
}

bool Holds(const Condition& c, std::string_view text) {
  switch (c.op) {
    case Condition::Op::kEquals:
      return text == c.operands[0];
    case Condition::Op::kNotEquals:
      return text != c.operands[0];
    case Condition::Op::kStartsWith:
      return StartsWith(text, c.operands[0]);
    case Condition::Op::kEndsWith:
      return EndsWith(text, c.operands[0]);
    case Condition::Op::kContains:
      return Contains(text, c.operands[0]);
    case Condition::Op::kIn:
      for (const std::string& o : c.operands) {
        if (text == o) return true;
      }
      return false;
    case Condition::Op::kEmpty:
      return Trim(text).empty();
    case Condition::Op::kNotEmpty:
      return !Trim(text).empty();
    case Condition::Op::kLessThan:
    case Condition::Op::kGreaterThan: {
      double v = 0;
      if (!ParseNumber(text, &v)) return false;
      return c.op == Condition::Op::kLessThan ? v < c.number : v > c.number;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<int> ColumnIndex(const std::vector<std::string>& columns, const std::string& name,
                                const std::string& key) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  constexpr size_t kShown = 30;
  std::vector<std::string> shown(columns.begin(), columns.begin() + std::min(columns.size(), kShown));
  return absl::NotFoundError(Cat(key, ": column \"", name, "\" is not in the input (",
                                 columns.size() > kShown ? "first columns: " : "columns: ", Join(shown, ", "), ")"));
}

absl::StatusOr<BoundValue> Bind(const ValueSource& source, const std::vector<std::string>& columns) {
  BoundValue b;
  b.source = &source;
  b.label = source.key;
  switch (source.kind) {
    case ValueSource::Kind::kColumn: {
      absl::StatusOr<int> index = ColumnIndex(columns, source.column, source.key);
      if (!index.ok()) return index.status();
      b.column = *index;
      b.label = source.column;
      break;
    }
    case ValueSource::Kind::kTemplate:
      for (const TemplatePart& p : source.parts) {
        BoundValue::Part part;
        part.text = p.text;
        if (p.is_column) {
          absl::StatusOr<int> index = ColumnIndex(columns, p.text, source.key);
          if (!index.ok()) return index.status();
          part.column = *index;
        }
        b.parts.push_back(std::move(part));
      }
      break;
    case ValueSource::Kind::kConstant:
      break;
  }
  for (const ValueSource::Rule& r : source.rules) {
    absl::StatusOr<int> index = ColumnIndex(columns, r.condition.column, source.key);
    if (!index.ok()) return index.status();
    b.rules.push_back({*index, &r.condition, &r.value});
  }
  return b;
}

bool ColumnText(const Record& record, int index, const std::vector<std::string>& columns, Encoding encoding,
                std::string* text, std::string* reason) {
  const std::string& raw = record.fields[static_cast<size_t>(index)];
  if (encoding == Encoding::kLatin1) {
    *text = Latin1ToUtf8(raw);
    return true;
  }
  if (!IsValidUtf8(raw)) {
    *reason = Cat(columns[static_cast<size_t>(index)], ": not valid UTF-8 (set `encoding: latin1` for Latin-1 files)");
    return false;
  }
  *text = raw;
  return true;
}

void ApplyTransforms(const std::vector<Transform>& transforms, std::string* text) {
  for (const Transform& t : transforms) {
    switch (t.kind) {
      case Transform::Kind::kTrim:
        TrimInPlace(text);
        break;
      case Transform::Kind::kLower:
        ToLowerInPlace(text);
        break;
      case Transform::Kind::kUpper:
        ToUpperInPlace(text);
        break;
      case Transform::Kind::kStripPrefix:
        if (StartsWith(*text, t.arg)) text->erase(0, t.arg.size());
        break;
      case Transform::Kind::kStripSuffix:
        if (EndsWith(*text, t.arg)) text->resize(text->size() - t.arg.size());
        break;
      case Transform::Kind::kReplace:
        ReplaceAll(text, t.arg, t.arg2);
        break;
      case Transform::Kind::kDigits: {
        std::string out;
        for (char c : *text) {
          if (IsDigit(c) || (c == '+' && out.empty())) out.push_back(c);
        }
        *text = std::move(out);
        break;
      }
    }
  }
}

bool EvalText(const BoundValue& v, const Record& record, const std::vector<std::string>& columns, Encoding encoding,
              std::string* text, std::string* reason) {
  const ValueSource& s = *v.source;
  text->clear();
  const BoundValue::Rule* matched = nullptr;
  for (const BoundValue::Rule& r : v.rules) {
    if (Holds(*r.condition, record.fields[static_cast<size_t>(r.column)])) {
      matched = &r;
      break;
    }
  }
  if (matched != nullptr) {
    *text = *matched->value;
  } else {
    switch (s.kind) {
      case ValueSource::Kind::kColumn:
        if (!ColumnText(record, v.column, columns, encoding, text, reason)) return false;
        break;
      case ValueSource::Kind::kConstant:
        *text = s.constant;
        break;
      case ValueSource::Kind::kTemplate: {
        std::string piece;
        for (const BoundValue::Part& p : v.parts) {
          if (p.column < 0) {
            text->append(p.text);
          } else {
            if (!ColumnText(record, p.column, columns, encoding, &piece, reason)) return false;
            text->append(piece);
          }
        }
        break;
      }
    }
  }
  ApplyTransforms(s.transforms, text);
  if (text->empty() && s.default_value) *text = *s.default_value;
  if (text->empty() && s.required) {
    *reason = Cat(v.label, ": is empty but required");
    return false;
  }
  return true;
}

bool ParseNumber(std::string_view text, double* out) {
  text = Trim(text);
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(*out);
}

bool ToJson(std::string_view text, ValueType type, std::string* json) {
  json->clear();
  switch (type) {
    case ValueType::kString:
      AppendJsonString(json, text);
      return true;
    case ValueType::kInt: {
      std::string_view t = Trim(text);
      if (!t.empty() && t[0] == '+') t.remove_prefix(1);
      int64_t v = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (!t.empty() && ec == std::errc() && end == t.data() + t.size()) {
        *json = std::to_string(v);
        return true;
      }
      // "6.0" and "1e3" are integers written as decimals.
      double d = 0;
      if (!ParseNumber(t, &d) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0) {
        return false;
      }
      *json = std::to_string(static_cast<int64_t>(d));
      return true;
    }
    case ValueType::kFloat: {
      double d = 0;
      if (!ParseNumber(text, &d)) return false;
      *json = FormatDouble(d);
      return true;
    }
    case ValueType::kBool: {
      std::string t = ToLower(Trim(text));
      if (t == "true" || t == "yes" || t == "y" || t == "t" || t == "1") {
        *json = "true";
      } else if (t == "false" || t == "no" || t == "n" || t == "f" || t == "0") {
        *json = "false";
      } else {
        return false;
      }
      return true;
    }
  }
  return false;
}

bool EvalJson(const BoundValue& v, const Record& record, const std::vector<std::string>& columns, Encoding encoding,
              std::string* json, std::string* reason) {
  std::string text;
  json->clear();
  if (!EvalText(v, record, columns, encoding, &text, reason)) return false;
  if (v.source->type != ValueType::kString && !text.empty() && Trim(text).empty()) {
    // A blank number or flag is a missing one.
    text = v.source->default_value.value_or("");
    if (text.empty() && v.source->required) {
      *reason = Cat(v.label, ": is empty but required");
      return false;
    }
  }
  if (text.empty()) return true;
  if (ToJson(text, v.source->type, json)) return true;
  switch (v.source->type) {
    case ValueType::kInt:
      *reason = Cat(v.label, ": ", Quoted(text), " is not an integer");
      break;
    case ValueType::kFloat:
      *reason = Cat(v.label, ": ", Quoted(text), " is not a number");
      break;
    default:
      *reason = Cat(v.label, ": ", Quoted(text), " is not true or false");
  }
  return false;
}

}  // namespace facet::importer::internal
