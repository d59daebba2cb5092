#include "api/internal/audience_render.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "api/internal/header_text.h"
#include "api/json_render.h"

namespace facet::api::internal {

using nlohmann::json;

BodyReader::BodyReader(std::string_view text) {
  body_ = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (body_.is_discarded()) {
    Fail("", "body is not valid JSON");
  } else if (!body_.is_object()) {
    Fail("", "body must be a JSON object");
  }
}

BodyReader& BodyReader::Only(std::initializer_list<std::string_view> allowed) {
  if (failed_) return *this;
  for (const auto& [key, value] : body_.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Fail(key, "unknown field \"" + key + "\"");
      break;
    }
  }
  return *this;
}

BodyReader& BodyReader::String(std::string_view key, std::string* out, bool required) {
  const json* v = Member(key);
  if (failed_) return *this;
  const std::string quoted = "\"" + std::string(key) + "\"";
  if (v == nullptr) {
    if (required) Fail(key, quoted + " is required");
  } else if (!v->is_string()) {
    Fail(key, quoted + " must be a string");
  } else {
    *out = v->get<std::string>();
    if (required && out->empty()) Fail(key, quoted + " must not be empty");
  }
  return *this;
}

BodyReader& BodyReader::Bool(std::string_view key, std::optional<bool>* out) {
  const json* v = Member(key);
  if (failed_ || v == nullptr) return *this;
  if (!v->is_boolean()) {
    Fail(key, "\"" + std::string(key) + "\" must be true or false");
  } else {
    *out = v->get<bool>();
  }
  return *this;
}

BodyReader& BodyReader::Int(std::string_view key, int64_t lo, int64_t hi, int64_t* out) {
  const json* v = Member(key);
  if (failed_ || v == nullptr) return *this;
  const bool in_range =
      v->is_number_integer() &&
      (v->is_number_unsigned() ? v->get<uint64_t>() <= static_cast<uint64_t>(hi) : v->get<int64_t>() <= hi) &&
      v->get<int64_t>() >= lo;
  if (!in_range) {
    Fail(key,
         "\"" + std::string(key) + "\" must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  } else {
    *out = v->get<int64_t>();
  }
  return *this;
}

const json* BodyReader::Member(std::string_view key) const {
  if (failed_) return nullptr;
  auto it = body_.find(std::string(key));
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

void BodyReader::Fail(std::string_view field, std::string message) {
  if (failed_) return;
  failed_ = true;
  field_ = std::string(field);
  message_ = std::move(message);
}

namespace {

json NumberJson(double d) {
  if (!std::isfinite(d)) return nullptr;
  if (d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) return static_cast<int64_t>(d);
  return d;
}

json LiteralJson(const segments::Literal& l) {
  if (const double* d = std::get_if<double>(&l)) return NumberJson(*d);
  if (const bool* b = std::get_if<bool>(&l)) return *b;
  return std::get<std::string>(l);
}

}  // namespace

std::string NumberText(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return ec == std::errc() ? std::string(buf, end) : std::string("null");
}

json ValueJson(const segments::Value& v) {
  switch (v.kind) {
    case segments::Value::Kind::kNull:
      return nullptr;
    case segments::Value::Kind::kNumber:
      return NumberJson(v.number);
    case segments::Value::Kind::kString:
      return std::string(v.string);
    case segments::Value::Kind::kBool:
      return v.boolean;
    case segments::Value::Kind::kArray: {
      json a = json::array();
      if (v.array != nullptr) {
        for (const segments::Literal& l : *v.array) a.push_back(LiteralJson(l));
      }
      return a;
    }
  }
  return nullptr;
}

std::optional<std::string> ValueText(const segments::Value& v) {
  switch (v.kind) {
    case segments::Value::Kind::kNull:
      return std::nullopt;
    case segments::Value::Kind::kNumber:
      return NumberText(v.number);
    case segments::Value::Kind::kString:
      return std::string(v.string);
    case segments::Value::Kind::kBool:
      return std::string(v.boolean ? "true" : "false");
    case segments::Value::Kind::kArray:
      return Dump(ValueJson(v));
  }
  return std::nullopt;
}

json TagJson(const segments::TagDef& t, uint64_t count) {
  json j = json::object();
  j["name"] = t.name;
  j["display_name"] = t.display_name;
  j["parent"] = t.parent.empty() ? json(nullptr) : json(t.parent);
  j["description"] = t.description;
  j["owner"] = t.owner;
  j["kind"] = segments::TagKindName(t.kind);
  if (t.kind == segments::TagKind::kRule) j["rule"] = t.rule;
  j["count"] = count;
  j["created_at"] = TimeOrNull(t.created_at);
  j["updated_at"] = TimeOrNull(t.updated_at);
  return j;
}

json SegmentJson(const segments::SegmentDef& s, uint64_t count) {
  return json{{"name", s.name},
              {"description", s.description},
              {"owner", s.owner},
              {"expression", s.expression},
              {"count", count},
              {"created_at", TimeOrNull(s.created_at)},
              {"updated_at", TimeOrNull(s.updated_at)}};
}

std::string CsvLineValue(std::string_view line) {
  line = TrimSpaces(line);
  if (line.size() < 2 || line.front() != '"' || line.back() != '"') return std::string(line);
  std::string out;
  for (size_t i = 1; i + 1 < line.size(); ++i) {
    if (line[i] == '"' && i + 2 < line.size() && line[i + 1] == '"') ++i;
    out.push_back(line[i]);
  }
  return out;
}

}  // namespace facet::api::internal
