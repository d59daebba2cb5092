// Key lookup over growing lists of JSON object keys, and the trait list an
// event is filled from.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <simdjson.h>

namespace facet::ingest::internal {

// Keys in insertion order. Lookups are linear while there are few keys and
// hashed beyond, so that objects with thousands of keys stay linear overall.
// The views must outlive the index (they point into the parsed document).
class KeyIndex {
 public:
  // Position of `key`, if added.
  std::optional<size_t> Find(std::string_view key) const {
    if (!map_.empty()) {
      const auto it = map_.find(key);
      if (it == map_.end()) return std::nullopt;
      return it->second;
    }
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] == key) return i;
    }
    return std::nullopt;
  }

  // Adds `key` at the next position. Of repeated keys, Find() returns the first.
  void Add(std::string_view key) {
    keys_.push_back(key);
    if (!map_.empty()) {
      map_.emplace(key, keys_.size() - 1);
    } else if (keys_.size() > kLinearKeys) {
      map_.reserve(keys_.size() * 2);
      for (size_t i = 0; i < keys_.size(); ++i) map_.emplace(keys_[i], i);
    }
  }

 private:
  static constexpr size_t kLinearKeys = 16;
  std::vector<std::string_view> keys_;
  std::unordered_map<std::string_view, size_t> map_;
};

// The person traits an event carries: identify's own `traits` first, then
// `context.traits`. Each key appears once, at its first position; within one
// object the last value wins, and an own trait is never replaced by a
// context one. Own traits must all be added before context ones.
class TraitList {
 public:
  void Add(std::string_view key, simdjson::dom::element value, bool own) {
    if (const auto i = index_.Find(key)) {
      if (own || *i >= own_count_) items_[*i].second = value;
      return;
    }
    index_.Add(key);
    items_.emplace_back(key, value);
    if (own) own_count_ = items_.size();
  }

  // The value of `key`, and whether it came from `context.traits`.
  std::optional<std::pair<simdjson::dom::element, bool>> Find(std::string_view key) const {
    const auto i = index_.Find(key);
    if (!i) return std::nullopt;
    return std::make_pair(items_[*i].second, *i >= own_count_);
  }

  const std::vector<std::pair<std::string_view, simdjson::dom::element>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string_view, simdjson::dom::element>> items_;
  KeyIndex index_;
  size_t own_count_ = 0;
};

}  // namespace facet::ingest::internal
