// LiveAggregates: the aggregate columns that live definitions compare
// (count of an event in a window, sum of a property, ...), kept per person
// at now so that previews answer them from a range index, and the per-event
// scratch that updates each column at most once per person.
//
//   LiveAggregates aggregates;
//   aggregates.ClearColumnMarks();                       // a new person
//   bool changed = aggregates.Update(def, p, row, now, &next);
//
// Columns are created on first use by a definition and dropped by Prune()
// once no definition compares them. Thread-safety: none; the catalog's
// single writer updates them, readers hold its read lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/types.h"
#include "segments/internal/definition.h"
#include "segments/numeric_index.h"
#include "segments/person_table.h"

namespace facet::segments::internal {

class LiveAggregates {
 public:
  // The column of aggregate `key`, created empty when new. The reference
  // stays valid until Prune() drops the column.
  NumericIndex& Column(const std::string& key);
  // The column of `key`, or null when no definition compares it.
  const NumericIndex* Find(std::string_view key) const;

  // Points d.columns at the live columns of d's aggregates (once per
  // compiled definition). d.expr must be set.
  void BindColumns(Definition& d) {
    if (!d.columns_bound) Bind(d);
  }

  // Updates the live aggregates of d for person p (row: null when p is not
  // live), skipping columns already updated for p since the last
  // ClearColumnMarks() (aggregates shared by definitions). Returns whether
  // any of d's aggregates changed value (here or before). `next` is lowered
  // to the instant an aggregate may change next.
  bool Update(Definition& d, PersonId p, const PersonTable::Person* row, TimeMs now, TimeMs* next) {
    BindColumns(d);
    bool changed = false;
    for (size_t i = 0; i < d.columns.size(); ++i) {
      uint8_t& state = column_state_[d.column_marks[i]];
      if (state == 0) {
        const bool set = d.columns[i]->Set(p, row ? d.expr->AggregateValue(i, *row, p, now, next) : std::nullopt);
        state = set ? kColumnChanged : kColumnUnchanged;
        marked_columns_.push_back(d.column_marks[i]);
      }
      changed |= state == kColumnChanged;
    }
    return changed;
  }

  // Forgets which columns were updated: call before each person.
  void ClearColumnMarks() {
    for (uint32_t m : marked_columns_) column_state_[m] = 0;
    marked_columns_.clear();
  }

  // Starts loading p's value in every column into the cache.
  void Prefetch(PersonId p) const {
    for (const auto& [key, column] : columns_) column->Prefetch(p);
  }

  // Clears p's value in every column (p was merged away).
  void Forget(PersonId p);

  // Drops the columns no definition in `defs` (by id; null when deleted)
  // compares any more. Definitions still bound to a dropped column must not
  // be used again.
  void Prune(const std::vector<std::unique_ptr<Definition>>& defs);

  size_t size() const { return columns_.size(); }
  size_t MemoryBytes() const;

 private:
  static constexpr uint8_t kColumnUnchanged = 1, kColumnChanged = 2;

  void Bind(Definition& d);

  absl::flat_hash_map<std::string, std::unique_ptr<NumericIndex>> columns_;
  // Per column (by mark): whether it was updated for this person yet
  // (0: not yet), and whether its value changed; the marks set, to clear
  // them after.
  absl::flat_hash_map<const NumericIndex*, uint32_t> marks_;
  std::vector<uint8_t> column_state_;
  std::vector<uint32_t> marked_columns_;
};

}  // namespace facet::segments::internal
