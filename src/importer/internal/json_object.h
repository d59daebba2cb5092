// JsonObject: an ordered JSON object under construction, whose leaves are
// JSON text. Used to assemble one Segment message from mapped fields.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace facet::importer::internal {

class JsonObject {
 public:
  JsonObject() = default;
  JsonObject(const JsonObject& other);
  JsonObject& operator=(const JsonObject& other);
  JsonObject(JsonObject&&) = default;
  JsonObject& operator=(JsonObject&&) = default;

  // Sets the value at `path` (non-empty) to the JSON text `json`, creating
  // objects on the way and replacing whatever was there.
  void Set(std::span<const std::string> path, std::string json);
  void Set(std::initializer_list<std::string> path, std::string json) {
    std::vector<std::string> p(path);
    Set(std::span<const std::string>(p), std::move(json));
  }
  // Removes the value at `path`, if any.
  void Erase(std::span<const std::string> path);

  bool empty() const { return entries_.empty(); }
  // Appends the object as compact JSON.
  void AppendTo(std::string* out) const;
  std::string ToString() const {
    std::string out;
    AppendTo(&out);
    return out;
  }

 private:
  struct Entry {
    std::string key;
    std::string json;                    // a leaf, or
    std::unique_ptr<JsonObject> object;  // a nested object
  };
  Entry* Find(std::string_view key);

  std::vector<Entry> entries_;
};

}  // namespace facet::importer::internal
