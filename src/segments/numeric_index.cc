#include "segments/numeric_index.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace facet::segments {

bool NumericIndex::Set(PersonId person, std::optional<double> value) {
  if (value && std::isnan(*value)) value.reset();
  double old = Get(person);
  bool had = !std::isnan(old);
  if (had == value.has_value() && (!had || old == *value)) return false;
  values_.Set(person, value ? *value : std::numeric_limits<double>::quiet_NaN(), had);
  // Most changes are of a value the person already had.
  if (!had) {
    present_.Add(person);
  } else if (!value) {
    present_.Remove(person);
  }
  if (!indexed_) return true;
  if (value) {
    auto it = std::lower_bound(cuts_.begin(), cuts_.end(), *value);
    if (it == cuts_.end() || *it != *value) {
      if (cuts_.size() >= kMaxCuts) {
        indexed_ = false;
        cuts_.clear();
        le_.clear();
        return true;
      }
      size_t i = static_cast<size_t>(it - cuts_.begin());
      // Persons <= the new cut are those <= the cut below it (none equal it yet).
      bitmap::Bitmap below = i > 0 ? le_[i - 1] : bitmap::Bitmap();
      cuts_.insert(it, *value);
      le_.insert(le_.begin() + static_cast<ptrdiff_t>(i), std::move(below));
    }
  }
  // le_[i] holds person iff its value <= cuts_[i]: change the cuts in between.
  size_t from_old =
      had ? static_cast<size_t>(std::lower_bound(cuts_.begin(), cuts_.end(), old) - cuts_.begin()) : cuts_.size();
  size_t from_new =
      value ? static_cast<size_t>(std::lower_bound(cuts_.begin(), cuts_.end(), *value) - cuts_.begin()) : cuts_.size();
  if (from_new < from_old) {
    for (size_t i = from_new; i < from_old; ++i) le_[i].Add(person);
  } else {
    for (size_t i = from_old; i < from_new; ++i) le_[i].Remove(person);
  }
  return true;
}

const bitmap::Bitmap* NumericIndex::AtMost(double v, bool inclusive) const {
  // Last cut c with c <= v (inclusive) or c < v.
  auto it =
      inclusive ? std::upper_bound(cuts_.begin(), cuts_.end(), v) : std::lower_bound(cuts_.begin(), cuts_.end(), v);
  if (it == cuts_.begin()) return &empty_;
  return &le_[static_cast<size_t>(it - cuts_.begin()) - 1];
}

void NumericIndex::Compact() {
  present_.Optimize();
  present_.Densify();
  // Bitsets for every cut of a varied column would cost a bitset per chunk
  // per distinct value; only few-valued columns get them.
  const bool densify = cuts_.size() <= 64;
  for (bitmap::Bitmap& b : le_) {
    b.Optimize();
    if (densify) b.Densify();
  }
}

size_t NumericIndex::MemoryBytes() const {
  size_t bytes = values_.MemoryBytes() + present_.MemoryBytes() + cuts_.capacity() * sizeof(double);
  for (const auto& b : le_) bytes += b.MemoryBytes();
  return bytes;
}

}  // namespace facet::segments
