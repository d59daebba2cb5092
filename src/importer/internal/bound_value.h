// BoundValue: a mapping's ValueSource bound to the column positions of one
// input, evaluated row by row.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "importer/mapping.h"
#include "importer/record_reader.h"

namespace facet::importer::internal {

struct BoundValue {
  const ValueSource* source = nullptr;
  int column = -1;  // kColumn
  struct Part {
    int column = -1;  // -1: literal
    std::string text;
  };
  std::vector<Part> parts;  // kTemplate
  struct Rule {
    int column = -1;
    const Condition* condition = nullptr;
    const std::string* value = nullptr;
  };
  std::vector<Rule> rules;  // tried before the value itself
  // How messages name the value: the column for a plain column, else the
  // mapping key.
  std::string label;
};

// Index of `name` in `columns`, or NotFound naming the column and `key`.
absl::StatusOr<int> ColumnIndex(const std::vector<std::string>& columns, const std::string& name,
                                const std::string& key);

// Binds `source` to `columns`. NotFound when it reads a column that is not
// there.
absl::StatusOr<BoundValue> Bind(const ValueSource& source, const std::vector<std::string>& columns);

// The text of column `index` of `record`, re-encoded from `encoding` to
// UTF-8. False with `*reason` set when the text is not valid in it.
bool ColumnText(const Record& record, int index, const std::vector<std::string>& columns, Encoding encoding,
                std::string* text, std::string* reason);

// The value's text after rules, templates, transforms and the default.
// An empty result means "no value"; a required value that is empty, or
// column text that is not valid UTF-8, gives false and `*reason`.
bool EvalText(const BoundValue& v, const Record& record, const std::vector<std::string>& columns, Encoding encoding,
              std::string* text, std::string* reason);

// Like EvalText, then typed: `*json` is the JSON text of the value (empty
// when there is none; a blank number or flag counts as none). A value that does not convert gives false and a
// reason such as `Quantity: "abc" is not a number`.
bool EvalJson(const BoundValue& v, const Record& record, const std::vector<std::string>& columns, Encoding encoding,
              std::string* json, std::string* reason);

// Converts `text` to JSON of `type`; false if it does not convert.
bool ToJson(std::string_view text, ValueType type, std::string* json);

// Parses a number as aggregates read it (blanks around it allowed); false
// if `text` is not a finite number.
bool ParseNumber(std::string_view text, double* out);

// Applies `transforms` to `text` in order.
void ApplyTransforms(const std::vector<Transform>& transforms, std::string* text);

}  // namespace facet::importer::internal
