// NumericIndex: one number per person (a numeric trait, or an aggregate kept
// live), with a range-encoded bitmap index so that a range predicate over
// millions of persons is two bitmaps, not a scan.
//
//   NumericIndex age;
//   age.Set(person, 31);
//   age.Set(other, std::nullopt);          // no number
//   const bitmap::Bitmap* le = age.AtMost(40, true);  // persons with age <= 40
//
// Range encoding: for each distinct value v (the "cuts", at most
// kMaxCuts), a bitmap of the persons whose value is <= v. A range [lo, hi]
// is AtMost(hi) and-not AtMost(below lo). Columns with more distinct values
// keep only the values (scanned per candidate).
//
// Thread-safety: const methods may run concurrently; Set needs exclusive
// access.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "base/types.h"
#include "bitmap/bitmap.h"
#include "segments/internal/person_column.h"

namespace facet::segments {

class NumericIndex {
 public:
  static constexpr size_t kMaxCuts = 64;

  // Returns whether the person's value changed.
  bool Set(PersonId person, std::optional<double> value);
  // NaN when the person has no number.
  double Get(PersonId person) const { return values_.Get(person); }

  // Starts loading the person's value into the cache, so that several
  // columns' misses overlap instead of following one another.
  void Prefetch(PersonId person) const { values_.Prefetch(person); }

  const bitmap::Bitmap& present() const { return present_; }
  // Whether the range index is kept (few distinct values).
  bool indexed() const { return indexed_; }

  // Persons whose value is <= v (inclusive) or < v (!inclusive); an empty
  // bitmap when none. Only when indexed(). The pointer is valid until the
  // next Set.
  const bitmap::Bitmap* AtMost(double v, bool inclusive) const;

  size_t MemoryBytes() const;
  // Compacts the bitmaps for fast formula passes after bulk changes.
  void Compact();

 private:
  // By person; NaN = none. Sparse while few persons hold a number.
  internal::PersonColumn<double> values_{std::numeric_limits<double>::quiet_NaN()};
  bitmap::Bitmap present_;
  bool indexed_ = true;
  std::vector<double> cuts_;        // sorted distinct values
  std::vector<bitmap::Bitmap> le_;  // le_[i]: value <= cuts_[i]
  bitmap::Bitmap empty_;
};

}  // namespace facet::segments
