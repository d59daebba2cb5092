// JsonWriter: appends compact JSON to a string, with commas and string
// escaping handled. Fast enough for the demo generator's millions of events.
//
//   std::string out;
//   JsonWriter w(&out);
//   w.BeginObject();
//   w.Key("type").String("track");
//   w.Key("revenue").Fixed2(39900);   // 399.00
//   w.EndObject();
//
// Nesting is limited to kMaxDepth levels; keys are written as given plus
// escaping. Not thread-safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json_string.h"

namespace facet::demo::internal {

class JsonWriter {
 public:
  static constexpr int kMaxDepth = 16;

  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }

  JsonWriter& Key(std::string_view key) {
    Separate();
    AppendQuoted(key);
    out_->push_back(':');
    after_key_ = true;
    return *this;
  }

  JsonWriter& String(std::string_view v) {
    Separate();
    AppendQuoted(v);
    return *this;
  }

  JsonWriter& Int(int64_t v) {
    Separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_->append(buf, r.ptr);
    return *this;
  }

  JsonWriter& Bool(bool v) {
    Separate();
    out_->append(v ? "true" : "false");
    return *this;
  }

  // Writes `scaled / 10^decimals` exactly, e.g. Fixed(39900, 2) -> 399.00,
  // Fixed(-1131105, 4) -> -113.1105.
  JsonWriter& Fixed(int64_t scaled, int decimals) {
    Separate();
    if (scaled < 0) {
      out_->push_back('-');
      scaled = -scaled;
    }
    int64_t pow10 = 1;
    for (int i = 0; i < decimals; ++i) pow10 *= 10;
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, scaled / pow10);
    out_->append(buf, r.ptr);
    if (decimals > 0) {
      out_->push_back('.');
      int64_t frac = scaled % pow10;
      for (int64_t p = pow10 / 10; p > 0; p /= 10) {
        out_->push_back(static_cast<char>('0' + frac / p));
        frac %= p;
      }
    }
    return *this;
  }

  // Appends `json`, which must already be one valid JSON value.
  JsonWriter& Raw(std::string_view json) {
    Separate();
    out_->append(json);
    return *this;
  }

 private:
  JsonWriter& Open(char c) {
    Separate();
    out_->push_back(c);
    if (depth_ + 1 < kMaxDepth) ++depth_;
    first_[depth_] = true;
    return *this;
  }

  JsonWriter& Close(char c) {
    out_->push_back(c);
    if (depth_ > 0) --depth_;
    return *this;
  }

  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ > 0 && !first_[depth_]) out_->push_back(',');
    first_[depth_] = false;
  }

  void AppendQuoted(std::string_view s) { AppendJsonString(out_, s); }

  std::string* out_;
  int depth_ = 0;
  bool after_key_ = false;
  bool first_[kMaxDepth] = {true};
};

}  // namespace facet::demo::internal
