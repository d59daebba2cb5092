// PersonRows: the catalog's per-person state, one short row per person:
// the instant the person's time-dependent answers may next change, and one
// bit per definition slot saying whether the person is a member now.
//
// The membership bitmaps answer questions over everybody; a row answers
// "is this person in d?" for one person with one or two cache lines, so an
// event that re-evaluates hundreds of definitions touches a bitmap only for
// the definitions whose answer changed.
//
//   PersonRows rows;
//   rows.ReserveSlots(300);
//   if (rows.SetMember(p, slot, true)) bitmap.Add(p);   // changed
//   rows.SetWake(p, at);
//
// Rows are allocated per block of 65,536 persons on first write; a person
// never written reads as a member of nothing with no wake-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "base/types.h"

namespace facet::segments::internal {

class PersonRows {
 public:
  static constexpr TimeMs kNoWake = std::numeric_limits<TimeMs>::max();

  // Whether `p` is a member of the definition in `slot`.
  bool Member(PersonId p, uint32_t slot) const;
  // Sets the bit; returns whether it changed. `slot` < slots().
  bool SetMember(PersonId p, uint32_t slot, bool in);

  // When p's time-dependent answers may next change; kNoWake when never.
  TimeMs Wake(PersonId p) const;
  void SetWake(PersonId p, TimeMs at);

  // Starts loading p's row into the cache.
  void Prefetch(PersonId p) const;

  // Makes room for slots [0, n); existing bits are kept.
  void ReserveSlots(uint32_t n);
  uint32_t slots() const { return static_cast<uint32_t>(stride_ - 1) * 64; }

  size_t MemoryBytes() const;

 private:
  static constexpr uint32_t kBlockShift = 16;
  static constexpr uint32_t kBlockPersons = 1u << kBlockShift;

  // The row of p, allocating its block; null from the const lookup when the
  // block does not exist.
  uint64_t* Row(PersonId p);
  const uint64_t* FindRow(PersonId p) const;
  std::unique_ptr<uint64_t[]> NewBlock(size_t stride) const;

  size_t stride_ = 1;  // words per person: the wake instant, then membership words
  std::vector<std::unique_ptr<uint64_t[]>> blocks_;
};

}  // namespace facet::segments::internal
