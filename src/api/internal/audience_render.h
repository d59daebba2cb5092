// JSON request bodies, JSON and CSV renderings of tags, segments and trait
// values for the audience routes (AudienceRoutes).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/csv_field.h"
#include "segments/catalog.h"
#include "segments/value.h"

namespace facet::api::internal {

// Reads and checks the members of a JSON request body, keeping the first
// problem and the member it is about:
//
//   BodyReader body(request.body);
//   body.Only({"name", "rule"}).String("rule", &rule, /*required=*/true);
//   if (!body.ok()) return BadRequest(body.message(), body.field());
class BodyReader {
 public:
  // Parses `text`; it must be a JSON object.
  explicit BodyReader(std::string_view text);

  // Fails on a member not in `allowed`.
  BodyReader& Only(std::initializer_list<std::string_view> allowed);
  // A string member; null or absent leaves *out as it is (and fails when
  // `required`, as does an empty string then).
  BodyReader& String(std::string_view key, std::string* out, bool required = false);
  // A boolean member; null or absent leaves *out as it is.
  BodyReader& Bool(std::string_view key, std::optional<bool>* out);
  // An integer member in [lo, hi]; null or absent leaves *out as it is.
  BodyReader& Int(std::string_view key, int64_t lo, int64_t hi, int64_t* out);

  // The member `key`, or null when absent, JSON null, or after a failure.
  const nlohmann::json* Member(std::string_view key) const;

  // Records a problem unless one was recorded already.
  void Fail(std::string_view field, std::string message);
  bool ok() const { return !failed_; }
  // The member at fault ("" for the whole body) and what is wrong.
  const std::string& field() const { return field_; }
  const std::string& message() const { return message_; }

 private:
  nlohmann::json body_;
  bool failed_ = false;
  std::string field_;
  std::string message_;
};

// Shortest text that reads back as `d` ("30", "2.5", "1e+21").
std::string NumberText(double d);

// A trait or property value as JSON (integral numbers as integers).
nlohmann::json ValueJson(const segments::Value& v);

// A value as text: strings as they are, numbers, booleans and arrays as their
// JSON text; nullopt for no value.
std::optional<std::string> ValueText(const segments::Value& v);

// The API's tag and segment objects, with their live member count.
nlohmann::json TagJson(const segments::TagDef& t, uint64_t count);
nlohmann::json SegmentJson(const segments::SegmentDef& s, uint64_t count);

using facet::AppendCsvField;

// The value of one line of a text/csv identifier list: trimmed, unquoted
// when quoted.
std::string CsvLineValue(std::string_view line);

}  // namespace facet::api::internal
