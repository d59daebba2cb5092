#include "segments/string_index.h"

#include <algorithm>

namespace facet::segments {

bool StringIndex::Set(PersonId person, uint32_t value) {
  const uint32_t old = Get(person);
  if (old == value) return false;
  values_.Set(person, value, old != kNone);
  if (value != kNone) {
    present_.Add(person);
  } else {
    present_.Remove(person);
  }
  if (!indexed_) return true;
  if (old != kNone) {
    auto it = holders_.find(old);
    it->second.Remove(person);
    if (it->second.Empty()) holders_.erase(it);
  }
  if (value != kNone) {
    auto [it, inserted] = holders_.try_emplace(value);
    if (inserted && holders_.size() > kMaxValues) {
      // Too varied for a bitmap per value: the column alone answers.
      indexed_ = false;
      holders_.clear();
      return true;
    }
    it->second.Add(person);
  }
  return true;
}

const bitmap::Bitmap& StringIndex::Holding(uint32_t value) const {
  auto it = holders_.find(value);
  return it == holders_.end() ? empty_ : it->second;
}

size_t StringIndex::MemoryBytes() const {
  size_t n = values_.MemoryBytes() + present_.MemoryBytes();
  for (const auto& [value, persons] : holders_) n += sizeof(value) + sizeof(persons) + persons.MemoryBytes();
  return n;
}

}  // namespace facet::segments
