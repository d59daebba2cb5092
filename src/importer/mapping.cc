#include "importer/mapping.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "base/status.h"
#include "importer/internal/json_text.h"
#include "importer/internal/strings.h"
#include "importer/internal/timestamp.h"

namespace facet::importer {
namespace {

// How a plain YAML string is read where a value is expected.
enum class Plain {
  kColumn,    // "Country" is a column; "{a}-{b}" a template
  kConstant,  // "Order Completed" is a constant; "{a}-{b}" a template
};

// Turns YAML nodes into a Mapping, remembering the file name for messages.
class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  absl::Status Error(const YAML::Node& node, std::string_view key, std::string_view why) const {
    std::string where(source_);
    if (node.IsDefined() && !node.Mark().is_null()) {
      internal::Append(&where, ":", node.Mark().line + 1);
    }
    return absl::InvalidArgumentError(internal::Cat(where, ": ", key, ": ", why));
  }

  absl::Status CheckKeys(const YAML::Node& map, std::string_view key,
                         std::initializer_list<std::string_view> allowed) const {
    for (const auto& kv : map) {
      std::string name = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return Error(kv.first, key.empty() ? name : internal::Cat(key, ".", name),
                     internal::Cat("unknown key (expected one of: ", internal::Join(allowed, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Scalar(const YAML::Node& node, std::string_view key) const {
    if (!node.IsScalar()) return Error(node, key, "must be a single value");
    return node.Scalar();
  }

  absl::StatusOr<bool> Bool(const YAML::Node& node, std::string_view key) const {
    ASSIGN_OR_RETURN(std::string s, Scalar(node, key));
    std::string lower = internal::ToLower(s);
    if (lower == "true" || lower == "yes") return true;
    if (lower == "false" || lower == "no") return false;
    return Error(node, key, internal::Cat("\"", s, "\" is not true or false"));
  }

  absl::StatusOr<int> Int(const YAML::Node& node, std::string_view key) const {
    ASSIGN_OR_RETURN(std::string s, Scalar(node, key));
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      return Error(node, key, internal::Cat("\"", s, "\" is not an integer"));
    }
    return v;
  }

  absl::StatusOr<std::vector<TemplatePart>> Template(const YAML::Node& node, std::string_view key,
                                                     std::string_view text) const {
    std::vector<TemplatePart> parts;
    std::string literal;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
        literal.push_back('{');
        ++i;
      } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        ++i;
      } else if (c == '{') {
        size_t close = text.find('}', i);
        if (close == std::string_view::npos) {
          return Error(node, key, internal::Cat("template \"", text, "\" has an unclosed '{'"));
        }
        std::string column(internal::Trim(text.substr(i + 1, close - i - 1)));
        if (column.empty()) {
          return Error(node, key, internal::Cat("template \"", text, "\" has an empty {}"));
        }
        if (!literal.empty()) parts.push_back({false, std::move(literal)});
        literal.clear();
        parts.push_back({true, std::move(column)});
        i = close;
      } else if (c == '}') {
        return Error(node, key, internal::Cat("template \"", text, "\" has a '}' without '{' (write }} for }})"));
      } else {
        literal.push_back(c);
      }
    }
    if (!literal.empty()) parts.push_back({false, std::move(literal)});
    return parts;
  }

  // A plain string: a column, a constant or a template.
  absl::StatusOr<ValueSource> PlainValue(const YAML::Node& node, std::string_view key, Plain plain) const {
    ValueSource v;
    v.key = std::string(key);
    std::string text = node.Scalar();
    if (text.find('{') != std::string::npos || text.find('}') != std::string::npos) {
      v.kind = ValueSource::Kind::kTemplate;
      ASSIGN_OR_RETURN(v.parts, Template(node, key, text));
    } else if (plain == Plain::kColumn) {
      if (text.empty()) return Error(node, key, "names no column");
      v.kind = ValueSource::Kind::kColumn;
      v.column = text;
    } else {
      v.kind = ValueSource::Kind::kConstant;
      v.constant = text;
    }
    return v;
  }

  absl::StatusOr<ValueType> Type(const YAML::Node& node, std::string_view key) const {
    ASSIGN_OR_RETURN(std::string s, Scalar(node, key));
    std::string t = internal::ToLower(s);
    if (t == "string" || t == "str" || t == "text") return ValueType::kString;
    if (t == "int" || t == "integer") return ValueType::kInt;
    if (t == "float" || t == "number" || t == "double" || t == "decimal") return ValueType::kFloat;
    if (t == "bool" || t == "boolean") return ValueType::kBool;
    return Error(node, key, internal::Cat("unknown type \"", s, "\" (expected string, int, float or bool)"));
  }

  absl::StatusOr<Transform> OneTransform(const YAML::Node& node, std::string_view key) const {
    Transform t;
    static constexpr std::string_view kKnown =
        "trim, lower, upper, digits, {strip_prefix: x}, {strip_suffix: x}, {replace: [from, to]}";
    if (node.IsScalar()) {
      std::string name = node.Scalar();
      if (name == "trim") {
        t.kind = Transform::Kind::kTrim;
      } else if (name == "lower") {
        t.kind = Transform::Kind::kLower;
      } else if (name == "upper") {
        t.kind = Transform::Kind::kUpper;
      } else if (name == "digits") {
        t.kind = Transform::Kind::kDigits;
      } else if (name == "strip_prefix" || name == "strip_suffix" || name == "replace") {
        return Error(node, key,
                     internal::Cat("\"", name, "\" needs an argument, e.g. {", name,
                                   name == "replace" ? ": [from, to]}" : ": \".0\"}"));
      } else {
        return Error(node, key, internal::Cat("unknown transform \"", name, "\" (expected ", kKnown, ")"));
      }
      return t;
    }
    if (!node.IsMap() || node.size() != 1) {
      return Error(node, key, internal::Cat("a transform is a name or a one-key map (", kKnown, ")"));
    }
    auto kv = *node.begin();
    std::string name = kv.first.Scalar();
    std::string sub = internal::Cat(key, ".", name);
    if (name == "strip_prefix" || name == "strip_suffix") {
      t.kind = name == "strip_prefix" ? Transform::Kind::kStripPrefix : Transform::Kind::kStripSuffix;
      ASSIGN_OR_RETURN(t.arg, Scalar(kv.second, sub));
      if (t.arg.empty()) return Error(kv.second, sub, "must not be empty");
      return t;
    }
    if (name == "replace") {
      t.kind = Transform::Kind::kReplace;
      if (kv.second.IsSequence() && kv.second.size() == 2) {
        ASSIGN_OR_RETURN(t.arg, Scalar(kv.second[0], sub));
        ASSIGN_OR_RETURN(t.arg2, Scalar(kv.second[1], sub));
      } else if (kv.second.IsMap()) {
        RETURN_IF_ERROR(CheckKeys(kv.second, sub, {"from", "to"}));
        if (!kv.second["from"]) return Error(kv.second, sub, "needs `from`");
        ASSIGN_OR_RETURN(t.arg, Scalar(kv.second["from"], sub + ".from"));
        if (kv.second["to"]) {
          ASSIGN_OR_RETURN(t.arg2, Scalar(kv.second["to"], sub + ".to"));
        }
      } else {
        return Error(kv.second, sub, "expected [from, to] or {from: x, to: y}");
      }
      if (t.arg.empty()) return Error(kv.second, sub, "the text to replace must not be empty");
      return t;
    }
    return Error(kv.first, key, internal::Cat("unknown transform \"", name, "\" (expected ", kKnown, ")"));
  }

  absl::StatusOr<std::vector<Transform>> Transforms(const YAML::Node& node, std::string_view key) const {
    std::vector<Transform> out;
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        ASSIGN_OR_RETURN(Transform t, OneTransform(node[i], internal::Cat(key, "[", i, "]")));
        out.push_back(std::move(t));
      }
    } else {
      ASSIGN_OR_RETURN(Transform t, OneTransform(node, key));
      out.push_back(std::move(t));
    }
    return out;
  }

  absl::StatusOr<Condition> OneCondition(const YAML::Node& node, std::string_view key, std::string* value) const {
    if (!node.IsMap()) {
      return Error(node, key, "a rule is a map such as {column: X, starts_with: \"C\", value: Y}");
    }
    RETURN_IF_ERROR(CheckKeys(node, key,
                              {"column", "equals", "not_equals", "starts_with", "ends_with", "contains", "in", "empty",
                               "not_empty", "less_than", "greater_than", "value"}));
    Condition c;
    if (!node["column"]) return Error(node, key, "needs `column`");
    ASSIGN_OR_RETURN(c.column, Scalar(node["column"], internal::Cat(key, ".column")));
    if (!node["value"]) return Error(node, key, "needs `value` (what the rule gives)");
    ASSIGN_OR_RETURN(*value, Scalar(node["value"], internal::Cat(key, ".value")));
    static constexpr std::pair<std::string_view, Condition::Op> kOps[] = {
        {"equals", Condition::Op::kEquals},
        {"not_equals", Condition::Op::kNotEquals},
        {"starts_with", Condition::Op::kStartsWith},
        {"ends_with", Condition::Op::kEndsWith},
        {"contains", Condition::Op::kContains},
        {"in", Condition::Op::kIn},
        {"empty", Condition::Op::kEmpty},
        {"not_empty", Condition::Op::kNotEmpty},
        {"less_than", Condition::Op::kLessThan},
        {"greater_than", Condition::Op::kGreaterThan},
    };
    int found = 0;
    for (const auto& [name, op] : kOps) {
      YAML::Node arg = node[std::string(name)];
      if (!arg) continue;
      ++found;
      c.op = op;
      std::string sub = internal::Cat(key, ".", name);
      switch (op) {
        case Condition::Op::kIn:
          if (!arg.IsSequence()) return Error(arg, sub, "must be a list of values");
          for (size_t i = 0; i < arg.size(); ++i) {
            ASSIGN_OR_RETURN(std::string s, Scalar(arg[i], sub));
            c.operands.push_back(std::move(s));
          }
          break;
        case Condition::Op::kEmpty:
        case Condition::Op::kNotEmpty: {
          ASSIGN_OR_RETURN(bool b, Bool(arg, sub));
          if (!b) return Error(arg, sub, "can only be true");
          break;
        }
        case Condition::Op::kLessThan:
        case Condition::Op::kGreaterThan: {
          ASSIGN_OR_RETURN(std::string s, Scalar(arg, sub));
          auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), c.number);
          if (ec != std::errc() || end != s.data() + s.size()) {
            return Error(arg, sub, internal::Cat("\"", s, "\" is not a number"));
          }
          break;
        }
        default: {
          ASSIGN_OR_RETURN(std::string s, Scalar(arg, sub));
          c.operands.push_back(std::move(s));
        }
      }
    }
    if (found != 1) {
      return Error(node, key,
                   "needs exactly one test: equals, not_equals, starts_with, ends_with, contains, "
                   "in, empty, not_empty, less_than or greater_than");
    }
    return c;
  }

  // A value: a plain string (read as `plain` says) or a map.
  // `extra` lists further keys the caller handles itself.
  absl::StatusOr<ValueSource> Value(const YAML::Node& node, std::string_view key, Plain plain,
                                    std::initializer_list<std::string_view> extra = {}) const {
    if (!node.IsDefined() || node.IsNull()) return Error(node, key, "has no value");
    if (node.IsScalar()) return PlainValue(node, key, plain);
    if (!node.IsMap()) return Error(node, key, "must be a string or a map");
    std::vector<std::string_view> allowed = {"column",  "template",   "value", "when",
                                             "default", "transforms", "type",  "required"};
    allowed.insert(allowed.end(), extra.begin(), extra.end());
    for (const auto& kv : node) {
      std::string name = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return Error(kv.first, internal::Cat(key, ".", name),
                     internal::Cat("unknown key (expected one of: ", internal::Join(allowed, ", "), ")"));
      }
    }
    ValueSource v;
    v.key = std::string(key);
    int sources = 0;
    if (node["column"]) {
      ++sources;
      v.kind = ValueSource::Kind::kColumn;
      ASSIGN_OR_RETURN(v.column, Scalar(node["column"], internal::Cat(key, ".column")));
      if (v.column.empty()) return Error(node["column"], internal::Cat(key, ".column"), "is empty");
    }
    if (node["template"]) {
      ++sources;
      v.kind = ValueSource::Kind::kTemplate;
      std::string sub = internal::Cat(key, ".template");
      ASSIGN_OR_RETURN(std::string text, Scalar(node["template"], sub));
      ASSIGN_OR_RETURN(v.parts, Template(node["template"], sub, text));
    }
    if (node["value"]) {
      ++sources;
      v.kind = ValueSource::Kind::kConstant;
      ASSIGN_OR_RETURN(v.constant, Scalar(node["value"], internal::Cat(key, ".value")));
    }
    if (node["when"]) {
      YAML::Node when = node["when"];
      std::string sub = internal::Cat(key, ".when");
      if (!when.IsSequence() || when.size() == 0) {
        return Error(when, sub, "must be a list of rules");
      }
      for (size_t i = 0; i < when.size(); ++i) {
        ValueSource::Rule rule;
        ASSIGN_OR_RETURN(rule.condition, OneCondition(when[i], internal::Cat(sub, "[", i, "]"), &rule.value));
        v.rules.push_back(std::move(rule));
      }
    }
    if (node["default"]) {
      ASSIGN_OR_RETURN(std::string d, Scalar(node["default"], internal::Cat(key, ".default")));
      if (sources == 0) {
        // {default: X} without a column or template is a constant.
        ++sources;
        v.kind = ValueSource::Kind::kConstant;
        v.constant = std::move(d);
      } else {
        v.default_value = std::move(d);
      }
    }
    if (sources == 0 && !v.rules.empty()) {
      // Rules alone: no value when none holds.
      ++sources;
      v.kind = ValueSource::Kind::kConstant;
    }
    if (sources != 1) {
      return Error(node, key,
                   sources == 0 ? "needs one of column, template, value, default or when"
                                : "takes only one of column, template and value");
    }
    if (node["transforms"]) {
      ASSIGN_OR_RETURN(v.transforms, Transforms(node["transforms"], internal::Cat(key, ".transforms")));
    }
    if (node["type"]) {
      ASSIGN_OR_RETURN(v.type, Type(node["type"], internal::Cat(key, ".type")));
    }
    if (node["required"]) {
      ASSIGN_OR_RETURN(v.required, Bool(node["required"], internal::Cat(key, ".required")));
    }
    return v;
  }

  // {name: value, ...} for traits, properties, context and item fields.
  absl::StatusOr<std::vector<FieldMapping>> Fields(const YAML::Node& node, std::string_view key) const {
    if (!node.IsMap()) return Error(node, key, "must be a map of name: column");
    std::vector<FieldMapping> out;
    for (const auto& kv : node) {
      FieldMapping f;
      f.name = kv.first.Scalar();
      std::string sub = internal::Cat(key, ".", f.name);
      RETURN_IF_ERROR(CheckFieldName(kv.first, sub, f.name));
      ASSIGN_OR_RETURN(f.source, Value(kv.second, sub, Plain::kColumn));
      out.push_back(std::move(f));
    }
    return out;
  }

  absl::Status CheckFieldName(const YAML::Node& node, std::string_view key, std::string_view name) const {
    if (name.empty()) return Error(node, key, "the name is empty");
    for (std::string_view part : internal::Split(name, '.')) {
      if (part.empty()) return Error(node, key, "the name has an empty part between dots");
    }
    return absl::OkStatus();
  }

  // The JSON text of a YAML scalar constant: quoted scalars are strings;
  // plain ones that read as numbers, true/false or null keep that type.
  std::string ConstantJson(const YAML::Node& node) const {
    const std::string& s = node.Scalar();
    if (node.Tag() != "!") {
      std::string lower = internal::ToLower(s);
      if (lower == "true" || lower == "false") return lower;
      if (lower == "null" || s == "~") return "null";
      double d = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (!s.empty() && ec == std::errc() && end == s.data() + s.size() && internal::IsJsonNumber(s)) {
        return s;
      }
    }
    return internal::JsonString(s);
  }

  absl::Status Constants(const YAML::Node& node, const std::vector<std::string>& prefix, std::string_view key,
                         std::vector<ConstantField>* out) const {
    if (!node.IsMap()) return Error(node, key, "must be a map of path: value");
    for (const auto& kv : node) {
      std::string name = kv.first.Scalar();
      std::string sub = internal::Cat(key, ".", name);
      RETURN_IF_ERROR(CheckFieldName(kv.first, sub, name));
      std::vector<std::string> path = prefix;
      for (std::string_view part : internal::Split(name, '.')) path.emplace_back(part);
      if (kv.second.IsMap()) {
        RETURN_IF_ERROR(Constants(kv.second, path, sub, out));
        continue;
      }
      if (path.front() != "properties" && path.front() != "traits" && path.front() != "context") {
        return Error(kv.first, sub, "must start with properties., traits. or context.");
      }
      if (path.size() < 2) return Error(kv.first, sub, "names a section, not a field in it");
      ConstantField c;
      c.path = std::move(path);
      if (kv.second.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& item : kv.second) {
          if (!item.IsScalar()) return Error(item, sub, "list items must be single values");
          items.push_back(ConstantJson(item));
        }
        c.json = internal::Cat("[", internal::Join(items, ","), "]");
      } else if (kv.second.IsScalar()) {
        c.json = ConstantJson(kv.second);
      } else {
        c.json = "null";
      }
      out->push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<TimestampMapping> Timestamp(const YAML::Node& node) const {
    TimestampMapping t;
    if (node.IsScalar()) {
      ASSIGN_OR_RETURN(t.source, Value(node, "timestamp", Plain::kColumn));
    } else {
      ASSIGN_OR_RETURN(t.source, Value(node, "timestamp", Plain::kColumn, {"format", "timezone"}));
      if (node["format"]) {
        ASSIGN_OR_RETURN(t.format, Scalar(node["format"], "timestamp.format"));
      }
      if (node["timezone"]) {
        ASSIGN_OR_RETURN(t.timezone, Scalar(node["timezone"], "timestamp.timezone"));
      }
    }
    const YAML::Node& format_node = node.IsMap() && node["format"] ? node["format"] : node;
    if (t.format != "iso8601" && t.format != "unix_s" && t.format != "unix_ms" &&
        t.format.find('%') == std::string::npos) {
      return Error(format_node, "timestamp.format",
                   internal::Cat("unknown format \"", t.format,
                                 "\" (use iso8601, unix_s, unix_ms or a pattern such as "
                                 "\"%Y-%m-%d %H:%M:%S\")"));
    }
    absl::StatusOr<internal::TimestampParser> parser = internal::TimestampParser::Create(t.format, t.timezone);
    if (!parser.ok()) {
      std::string message(parser.status().message());
      bool zone = internal::Contains(message, "timezone");
      return Error(zone && node.IsMap() && node["timezone"] ? node["timezone"] : format_node,
                   zone ? "timestamp.timezone" : "timestamp.format", message);
    }
    return t;
  }

  absl::StatusOr<GroupBy> Group(const YAML::Node& node) const {
    if (!node.IsMap()) return Error(node, "group_by", "must be a map with `key`");
    RETURN_IF_ERROR(CheckKeys(node, "group_by", {"key", "items", "aggregates", "on_oversize"}));
    GroupBy g;
    if (!node["key"]) return Error(node, "group_by", "needs `key` (the column that groups rows)");
    ASSIGN_OR_RETURN(g.key, Value(node["key"], "group_by.key", Plain::kColumn));
    if (YAML::Node items = node["items"]) {
      if (!items.IsMap()) return Error(items, "group_by.items", "must be a map with `fields`");
      RETURN_IF_ERROR(CheckKeys(items, "group_by.items", {"property", "fields"}));
      g.items_property = "products";
      if (items["property"]) {
        ASSIGN_OR_RETURN(g.items_property, Scalar(items["property"], "group_by.items.property"));
        RETURN_IF_ERROR(CheckFieldName(items["property"], "group_by.items.property", g.items_property));
      }
      if (!items["fields"]) return Error(items, "group_by.items", "needs `fields`");
      ASSIGN_OR_RETURN(g.item_fields, Fields(items["fields"], "group_by.items.fields"));
      if (g.item_fields.empty()) return Error(items["fields"], "group_by.items.fields", "is empty");
    }
    if (YAML::Node aggs = node["aggregates"]) {
      if (!aggs.IsMap()) return Error(aggs, "group_by.aggregates", "must be a map of name: {...}");
      for (const auto& kv : aggs) {
        Aggregate a;
        a.name = kv.first.Scalar();
        std::string sub = internal::Cat("group_by.aggregates.", a.name);
        RETURN_IF_ERROR(CheckFieldName(kv.first, sub, a.name));
        RETURN_IF_ERROR(Agg(kv.second, sub, &a));
        g.aggregates.push_back(std::move(a));
      }
    }
    if (node["on_oversize"]) {
      ASSIGN_OR_RETURN(std::string s, Scalar(node["on_oversize"], "group_by.on_oversize"));
      if (s == "truncate_items") {
        g.on_oversize = GroupBy::Oversize::kTruncateItems;
      } else if (s == "reject") {
        g.on_oversize = GroupBy::Oversize::kReject;
      } else {
        return Error(node["on_oversize"], "group_by.on_oversize",
                     internal::Cat("\"", s, "\" is not truncate_items or reject"));
      }
    }
    return g;
  }

  absl::Status Agg(const YAML::Node& node, std::string_view key, Aggregate* a) const {
    if (!node.IsMap()) {
      return Error(node, key, "must be a map such as {sum_product: [Quantity, UnitPrice]}");
    }
    RETURN_IF_ERROR(CheckKeys(node, key, {"sum", "sum_product", "count", "min", "max", "round"}));
    int kinds = 0;
    for (std::string_view name : {"sum", "min", "max"}) {
      YAML::Node col = node[std::string(name)];
      if (!col) continue;
      ++kinds;
      a->kind = name == "sum" ? Aggregate::Kind::kSum : name == "min" ? Aggregate::Kind::kMin : Aggregate::Kind::kMax;
      ASSIGN_OR_RETURN(std::string c, Scalar(col, internal::Cat(key, ".", name)));
      a->columns.push_back(std::move(c));
    }
    if (YAML::Node cols = node["sum_product"]) {
      ++kinds;
      a->kind = Aggregate::Kind::kSumProduct;
      std::string sub = internal::Cat(key, ".sum_product");
      if (!cols.IsSequence() || cols.size() < 2) {
        return Error(cols, sub, "must list two or more columns, e.g. [Quantity, UnitPrice]");
      }
      for (const auto& c : cols) {
        ASSIGN_OR_RETURN(std::string s, Scalar(c, sub));
        a->columns.push_back(std::move(s));
      }
    }
    if (YAML::Node count = node["count"]) {
      ++kinds;
      a->kind = Aggregate::Kind::kCount;
      ASSIGN_OR_RETURN(bool b, Bool(count, internal::Cat(key, ".count")));
      if (!b) return Error(count, internal::Cat(key, ".count"), "can only be true");
    }
    if (kinds != 1) {
      return Error(node, key, "needs exactly one of sum, sum_product, count, min, max");
    }
    if (node["round"]) {
      ASSIGN_OR_RETURN(a->round, Int(node["round"], internal::Cat(key, ".round")));
      if (a->round < -1 || a->round > 9) {
        return Error(node["round"], internal::Cat(key, ".round"),
                     "must be between 0 and 9 decimals (or -1 for no rounding)");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Mapping> Parse(const YAML::Node& root) const {
    Mapping m;
    m.source_name = std::string(source_);
    if (!root.IsMap()) return Error(root, "(top level)", "the mapping must be a YAML map");
    RETURN_IF_ERROR(CheckKeys(root, "",
                              {"format", "delimiter", "header", "columns", "encoding", "type", "event", "name",
                               "user_id", "anonymous_id", "group_id", "previous_id", "message_id", "timestamp",
                               "traits", "properties", "context", "constants", "group_by"}));
    if (root["format"]) {
      ASSIGN_OR_RETURN(std::string f, Scalar(root["format"], "format"));
      if (f == "csv") {
        m.format = InputFormat::kCsv;
      } else if (f == "ndjson" || f == "jsonl") {
        m.format = InputFormat::kNdjson;
      } else if (f != "auto") {
        return Error(root["format"], "format", internal::Cat("\"", f, "\" is not csv, ndjson or auto"));
      }
    }
    if (root["delimiter"]) {
      ASSIGN_OR_RETURN(std::string d, Scalar(root["delimiter"], "delimiter"));
      if (d == "whitespace" || d == "blanks") {
        m.whitespace_separated = true;
      } else if (d == "\\t" || d == "tab") {
        m.delimiter = '\t';
      } else if (d.size() == 1 && d != "\"" && d != "\n" && d != "\r") {
        m.delimiter = d[0];
      } else {
        return Error(root["delimiter"], "delimiter",
                     internal::Cat("\"", d, "\" is not one character, \"\\t\" or whitespace"));
      }
    }
    bool header = true;
    if (root["header"]) {
      ASSIGN_OR_RETURN(header, Bool(root["header"], "header"));
    }
    if (root["columns"]) {
      YAML::Node cols = root["columns"];
      if (!cols.IsSequence() || cols.size() == 0) {
        return Error(cols, "columns", "must be a list of column names");
      }
      for (const auto& c : cols) {
        ASSIGN_OR_RETURN(std::string s, Scalar(c, "columns"));
        m.columns.push_back(std::move(s));
      }
    } else if (!header) {
      return Error(root["header"], "header", "a file without a header needs `columns`");
    }
    m.has_header = header;
    if (root["encoding"]) {
      ASSIGN_OR_RETURN(std::string e, Scalar(root["encoding"], "encoding"));
      std::string lower = internal::ToLower(e);
      if (lower == "utf-8" || lower == "utf8") {
        m.encoding = Encoding::kUtf8;
      } else if (lower == "latin1" || lower == "latin-1" || lower == "iso-8859-1") {
        m.encoding = Encoding::kLatin1;
      } else {
        return Error(root["encoding"], "encoding", internal::Cat("\"", e, "\" is not utf-8 or latin1"));
      }
    }
    if (root["type"]) {
      ASSIGN_OR_RETURN(m.type, Scalar(root["type"], "type"));
      static constexpr std::string_view kTypes[] = {"track", "identify", "page", "screen", "group", "alias"};
      if (std::find(std::begin(kTypes), std::end(kTypes), m.type) == std::end(kTypes)) {
        return Error(
            root["type"], "type",
            internal::Cat("unknown type \"", m.type, "\" (expected track, identify, page, screen, group or alias)"));
      }
    }
    if (root["event"]) {
      ASSIGN_OR_RETURN(m.event, Value(root["event"], "event", Plain::kConstant));
    }
    if (root["name"]) {
      ASSIGN_OR_RETURN(m.name, Value(root["name"], "name", Plain::kConstant));
    }
    if (root["user_id"]) {
      ASSIGN_OR_RETURN(m.user_id, Value(root["user_id"], "user_id", Plain::kColumn));
    }
    if (YAML::Node anon = root["anonymous_id"]) {
      ASSIGN_OR_RETURN(m.anonymous_id, Value(anon, "anonymous_id", Plain::kColumn, {"only_without_user_id"}));
      if (anon.IsMap() && anon["only_without_user_id"]) {
        ASSIGN_OR_RETURN(m.anonymous_id_only_without_user_id,
                         Bool(anon["only_without_user_id"], "anonymous_id.only_without_user_id"));
      }
    }
    if (root["group_id"]) {
      ASSIGN_OR_RETURN(m.group_id, Value(root["group_id"], "group_id", Plain::kColumn));
    }
    if (root["previous_id"]) {
      ASSIGN_OR_RETURN(m.previous_id, Value(root["previous_id"], "previous_id", Plain::kColumn));
    }
    if (root["message_id"]) {
      ASSIGN_OR_RETURN(m.message_id, Value(root["message_id"], "message_id", Plain::kConstant));
      if (m.message_id->kind == ValueSource::Kind::kConstant) {
        return Error(root["message_id"], "message_id",
                     "a constant would give every event the same id; use a template such as "
                     "\"orders-{OrderId}\"");
      }
    }
    if (root["timestamp"]) {
      ASSIGN_OR_RETURN(m.timestamp, Timestamp(root["timestamp"]));
    }
    if (root["traits"]) {
      ASSIGN_OR_RETURN(m.traits, Fields(root["traits"], "traits"));
    }
    if (root["properties"]) {
      ASSIGN_OR_RETURN(m.properties, Fields(root["properties"], "properties"));
    }
    if (root["context"]) {
      ASSIGN_OR_RETURN(m.context, Fields(root["context"], "context"));
    }
    if (root["constants"]) {
      RETURN_IF_ERROR(Constants(root["constants"], {}, "constants", &m.constants));
    }
    if (root["group_by"]) {
      ASSIGN_OR_RETURN(m.group_by, Group(root["group_by"]));
    }

    // Requirements of each message type.
    if (m.type == "track" && !m.event) {
      return Error(root, "event", "a track mapping needs `event` (a name, a column or rules)");
    }
    if (m.type != "track" && m.event) {
      return Error(root["event"], "event",
                   internal::Cat("only track events have `event`; this is ", m.type, " (use `name` for page/screen)"));
    }
    if (m.type == "group" && !m.group_id) {
      return Error(root, "group_id", "a group mapping needs `group_id`");
    }
    if (m.type == "alias" && !m.previous_id) {
      return Error(root, "previous_id", "an alias mapping needs `previous_id`");
    }
    if (m.type == "alias" && !m.user_id) {
      return Error(root, "user_id", "an alias mapping needs `user_id`");
    }
    if (!m.user_id && !m.anonymous_id) {
      return Error(root, "user_id", "the mapping needs user_id or anonymous_id (or both)");
    }
    if (m.anonymous_id_only_without_user_id && !m.user_id) {
      return Error(root["anonymous_id"], "anonymous_id.only_without_user_id", "needs a user_id mapping");
    }
    return m;
  }

 private:
  std::string_view source_;
};

void AddColumn(const std::string& c, absl::flat_hash_set<std::string>* seen, std::vector<std::string>* out) {
  if (seen->insert(c).second) out->push_back(c);
}

void AddSourceColumns(const ValueSource& v, absl::flat_hash_set<std::string>* seen, std::vector<std::string>* out) {
  if (v.kind == ValueSource::Kind::kColumn) AddColumn(v.column, seen, out);
  for (const TemplatePart& p : v.parts) {
    if (p.is_column) AddColumn(p.text, seen, out);
  }
  for (const ValueSource::Rule& r : v.rules) AddColumn(r.condition.column, seen, out);
}

}  // namespace

std::vector<std::string> Mapping::ReferencedColumns() const {
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> out;
  for (const std::optional<ValueSource>* v :
       {&event, &name, &user_id, &anonymous_id, &group_id, &previous_id, &message_id}) {
    if (*v) AddSourceColumns(**v, &seen, &out);
  }
  if (timestamp) AddSourceColumns(timestamp->source, &seen, &out);
  for (const auto* fields : {&traits, &properties, &context}) {
    for (const FieldMapping& f : *fields) AddSourceColumns(f.source, &seen, &out);
  }
  if (group_by) {
    AddSourceColumns(group_by->key, &seen, &out);
    for (const FieldMapping& f : group_by->item_fields) AddSourceColumns(f.source, &seen, &out);
    for (const Aggregate& a : group_by->aggregates) {
      for (const std::string& c : a.columns) AddColumn(c, &seen, &out);
    }
  }
  return out;
}

absl::StatusOr<Mapping> ParseMapping(std::string_view yaml, std::string_view source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(internal::Cat(source_name, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  try {
    return Parser(source_name).Parse(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(internal::Cat(source_name, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<Mapping> LoadMapping(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(internal::Cat("mapping file ", path, ": cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseMapping(text.str(), path);
}

}  // namespace facet::importer
