// StringIndex: one string trait across persons: each person's value as an
// interned string id (a column scanned by id, never by text), and, while
// the trait has few distinct values (at most kMaxValues, as a city, gender
// or membership level has), the persons holding each value as a bitmap, so
// that `trait.city IN ("佛山", "广州")` over millions of persons is an OR
// of two bitmaps.
//
//   StringIndex city;
//   city.Set(person, pool.Intern("佛山"));
//   city.Set(other, StringIndex::kNone);     // no string there
//   const bitmap::Bitmap& foshan = city.Holding(pool.Find("佛山"));
//
// Thread-safety: const methods may run concurrently; Set needs exclusive
// access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/types.h"
#include "bitmap/bitmap.h"
#include "segments/internal/person_column.h"

namespace facet::segments {

class StringIndex {
 public:
  static constexpr size_t kMaxValues = 1024;
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

  // Sets the person's value (kNone: no string). Returns whether it changed.
  bool Set(PersonId person, uint32_t value);
  // kNone when the person has no string here.
  uint32_t Get(PersonId person) const { return values_.Get(person); }

  const bitmap::Bitmap& present() const { return present_; }
  // Whether the per-value bitmaps are kept (few distinct values).
  bool indexed() const { return indexed_; }
  // The persons holding `value`; empty when none. Only when indexed().
  const bitmap::Bitmap& Holding(uint32_t value) const;
  // Every distinct value held, with its persons. Only when indexed().
  const absl::flat_hash_map<uint32_t, bitmap::Bitmap>& holders() const { return holders_; }

  size_t MemoryBytes() const;

 private:
  // By person; kNone = none. Sparse while few persons hold a string.
  internal::PersonColumn<uint32_t> values_{kNone};
  bitmap::Bitmap present_;
  bool indexed_ = true;
  absl::flat_hash_map<uint32_t, bitmap::Bitmap> holders_;
  bitmap::Bitmap empty_;
};

}  // namespace facet::segments
