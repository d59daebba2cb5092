// Mapping: how the rows of a CSV or NDJSON file become Segment messages. It
// is loaded from a YAML file whose format docs/import-mapping.md describes:
//
//   type: track
//   event: {default: "Order Completed",
//           when: [{column: InvoiceNo, starts_with: "C", value: "Order Refunded"}]}
//   user_id: {column: CustomerID, transforms: [trim, {strip_suffix: ".0"}]}
//   anonymous_id: {template: "guest-{InvoiceNo}", only_without_user_id: true}
//   timestamp: {column: InvoiceDate, format: "%Y-%m-%d %H:%M:%S"}
//   message_id: "retail-{InvoiceNo}"
//   traits: {country: Country}
//   constants: {properties.currency: GBP}
//
//   ASSIGN_OR_RETURN(Mapping m, LoadMapping("mapping.yaml"));
//
// Loading checks everything that can be checked without the input: unknown
// keys, missing required keys, bad formats and types. Errors name the file,
// line and key, and say why.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace facet::importer {

enum class InputFormat { kAuto, kCsv, kNdjson };
enum class Encoding { kUtf8, kLatin1 };

// The JSON type a value is converted to.
enum class ValueType { kString, kInt, kFloat, kBool };

struct Transform {
  enum class Kind { kTrim, kLower, kUpper, kStripPrefix, kStripSuffix, kReplace, kDigits };
  Kind kind = Kind::kTrim;
  std::string arg;   // prefix / suffix / text to replace
  std::string arg2;  // replacement
};

// A test on one column of a row, for `when` rules.
struct Condition {
  enum class Op {
    kEquals,
    kNotEquals,
    kStartsWith,
    kEndsWith,
    kContains,
    kIn,
    kEmpty,
    kNotEmpty,
    kLessThan,
    kGreaterThan,
  };
  std::string column;
  Op op = Op::kEquals;
  std::vector<std::string> operands;  // kIn: all; text ops: one; kEmpty/kNotEmpty: none
  double number = 0;                  // kLessThan / kGreaterThan
};

// One piece of a template such as "guest-{InvoiceNo}".
struct TemplatePart {
  bool is_column = false;
  std::string text;  // literal text, or the column name
};

// Where a value comes from, and how it is cleaned and typed. `when` rules
// are tried first, in order; the first that holds gives the value, and if
// none holds the value comes from the column, template or constant.
struct ValueSource {
  enum class Kind { kColumn, kTemplate, kConstant };
  Kind kind = Kind::kColumn;
  std::string column;               // kColumn
  std::vector<TemplatePart> parts;  // kTemplate
  std::string constant;             // kConstant ("" = no value)
  struct Rule {
    Condition condition;
    std::string value;
  };
  std::vector<Rule> rules;
  std::vector<Transform> transforms;  // applied to the text before typing
  ValueType type = ValueType::kString;
  std::optional<std::string> default_value;  // used when the text is empty
  bool required = false;                     // an empty value rejects the row
  std::string key;                           // the mapping key, for messages ("traits.age")
};

// A value written to the event at a dotted path under a section, e.g.
// name "country" under context.traits.
struct FieldMapping {
  std::string name;  // dots nest: "address.city"
  ValueSource source;
};

// A constant from the mapping, already as JSON text ("\"GBP\"", "1", "true").
struct ConstantField {
  std::vector<std::string> path;  // e.g. {"properties", "currency"}
  std::string json;
};

struct TimestampMapping {
  ValueSource source;
  // "iso8601", "unix_s", "unix_ms", or a strptime-like pattern.
  std::string format = "iso8601";
  // "UTC", a fixed offset such as "+08:00", or an IANA name such as
  // "Europe/London". Applies when the text carries no offset.
  std::string timezone = "UTC";
};

struct Aggregate {
  enum class Kind { kSum, kSumProduct, kCount, kMin, kMax };
  std::string name;  // property name (dots nest)
  Kind kind = Kind::kSum;
  std::vector<std::string> columns;  // kSum/kMin/kMax: one; kSumProduct: two or more
  int round = 2;                     // decimals kept; -1 = no rounding
};

// Rows that share a key become one event (all rows of the input, in the
// order in which keys are first seen).
struct GroupBy {
  ValueSource key;
  std::string items_property;  // e.g. "products"; empty = no item list
  std::vector<FieldMapping> item_fields;
  std::vector<Aggregate> aggregates;
  // What to do with an event over the size limit: drop items from the end of
  // the list (and say how many in "<items_property>_omitted"), or reject it.
  enum class Oversize { kTruncateItems, kReject };
  Oversize on_oversize = Oversize::kTruncateItems;
};

struct Mapping {
  std::string source_name;  // file name, for messages

  InputFormat format = InputFormat::kAuto;
  std::optional<char> delimiter;  // CSV; default ',' (or '\t' for .tsv)
  bool whitespace_separated = false;
  bool has_header = true;            // the first row names the columns
  std::vector<std::string> columns;  // names to use instead (required without a header)
  Encoding encoding = Encoding::kUtf8;

  std::string type = "track";        // track, identify, page, screen, group, alias
  std::optional<ValueSource> event;  // track: the event name (required)
  std::optional<ValueSource> name;   // page / screen name
  std::optional<ValueSource> user_id;
  std::optional<ValueSource> anonymous_id;
  bool anonymous_id_only_without_user_id = false;
  std::optional<ValueSource> group_id;     // group
  std::optional<ValueSource> previous_id;  // alias
  // Default: a hash of the input file name and line (or group key), so that
  // importing the same file again de-duplicates.
  std::optional<ValueSource> message_id;
  std::optional<TimestampMapping> timestamp;  // default: the server's receive time

  std::vector<FieldMapping> traits;  // identify: traits; others: context.traits
  std::vector<FieldMapping> properties;
  std::vector<FieldMapping> context;
  std::vector<ConstantField> constants;

  std::optional<GroupBy> group_by;

  // Every column the mapping reads, in first-use order.
  std::vector<std::string> ReferencedColumns() const;
};

// Parses a mapping from YAML text; `source_name` is used in messages.
// InvalidArgument naming the key and the reason for any problem.
absl::StatusOr<Mapping> ParseMapping(std::string_view yaml, std::string_view source_name);

// Reads and parses the mapping file at `path`. NotFound if it is missing.
absl::StatusOr<Mapping> LoadMapping(const std::string& path);

}  // namespace facet::importer
