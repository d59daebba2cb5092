// Membership: who is in each definition now, kept up to date. Holds one
// row per person (a bit per definition slot and the person's next wake-up,
// see PersonRows), the timer heap, and the dirty marks of the definitions
// an event or timer reaches; re-evaluates the marked definitions for one
// person (Reevaluate) or a rule for every live person (Recompute), and
// records each entry and exit as a change in the write batch.
//
//   membership.MarkForEventsOrTime(*graph.ByEvent(event_name));
//   membership.Reevaluate(person, now, &batch, &refs);
//   membership.RunTimers(now, &batch, &refs);
//
// It reads definitions from a DefinitionGraph and keeps their members;
// aggregates go through LiveAggregates. All three must outlive it.
// Thread-safety: none; the catalog's single writer changes it, readers
// hold its read lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/types.h"
#include "bitmap/bitmap.h"
#include "segments/catalog.h"
#include "segments/evaluator.h"
#include "segments/internal/definition.h"
#include "segments/internal/definition_graph.h"
#include "segments/internal/live_aggregates.h"
#include "segments/internal/person_rows.h"
#include "segments/numeric_index.h"
#include "segments/person_table.h"
#include "store/kv_store.h"

namespace facet::segments::internal {

class Membership {
 public:
  Membership(const DefinitionGraph& graph, LiveAggregates& aggregates, const PersonTable& table)
      : graph_(graph), aggregates_(aggregates), table_(table) {}

  // Drops every row, slot and timer (before loading).
  void Reset();
  // Sizes the dirty marks to the graph: call after each Reindex().
  void OnReindex() { dirty_.assign(graph_.size(), 0); }

  // A free membership slot for a new definition; frees d's (its bits
  // cleared) for another.
  uint32_t AcquireSlot();
  void ReleaseSlot(Definition& d);

  bool IsMember(const Definition& d, PersonId p) const { return rows_.Member(p, d.slot); }
  // Sets p's membership of d, recording a change when `batch` is given.
  // Returns whether it changed.
  bool SetMember(Definition& d, PersonId p, bool in, TimeMs now, store::WriteBatch* batch);
  // Replaces d's members by `fresh`, recording the changes when `batch` is
  // given.
  void AssignMembers(Definition& d, bitmap::Bitmap fresh, TimeMs now, store::WriteBatch* batch);
  // Appends the record of p entering (or leaving) d, with the next change
  // sequence number.
  void RecordChange(const Definition& d, PersonId p, bool entered, TimeMs now, store::WriteBatch* batch);

  // Marks definitions for the next Reevaluate(): all of `ids`; those that
  // events or time reach (by their event mark); those referring to `id`.
  void MarkAll(const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) dirty_[id] = kMarkEvaluate;
  }
  void MarkForEventsOrTime(const std::vector<uint32_t>& ids) {
    const std::vector<uint8_t>& marks = graph_.event_marks();
    for (uint32_t id : ids) {
      if (dirty_[id] == kMarkEvaluate) continue;
      dirty_[id] = marks[id];
    }
  }
  void MarkDependents(uint32_t id) { MarkAll(graph_.dependents()[id]); }

  // Re-evaluates the marked definitions (and, when one changes, those
  // referring to it) for person p, in dependency order, and clears the
  // marks. A person seen for the first time is evaluated against all.
  void Reevaluate(PersonId p, TimeMs now, store::WriteBatch* batch, RefResolver* refs);

  // Evaluates rule definition d for every live person at `now`, recording
  // changes against its current members when `batch` is given. `current`
  // (optional) lists the aggregate columns already computed at `now` for
  // every live person, which are skipped and to which the ones computed
  // here are added.
  void Recompute(Definition& d, TimeMs now, store::WriteBatch* batch, RefResolver* refs,
                 std::vector<NumericIndex*>* current = nullptr);
  // Recomputes every definition that (transitively) refers to `id`.
  void RecomputeDependents(uint32_t id, TimeMs now, store::WriteBatch* batch, RefResolver* refs);

  // Wakes p at `at` unless it wakes earlier already (kNever: no timer).
  void Schedule(PersonId p, TimeMs at);
  // Cancels p's timer.
  void CancelTimer(PersonId p) { rows_.SetWake(p, PersonRows::kNoWake); }
  // Re-evaluates the persons whose timers are due at or before `now`.
  // Returns how many.
  size_t RunTimers(TimeMs now, store::WriteBatch* batch, RefResolver* refs);
  // The earliest pending timer, or CompiledExpr::kNever.
  TimeMs next_timer() const { return heap_.empty() ? CompiledExpr::kNever : heap_.top().first; }

  // The change log (column kChanges, written through RecordChange).
  //
  // Continues the change sequence from the highest one stored for ids
  // [0, id_count). The store's error.
  absl::Status ResumeChangeSeq(const store::KvStore& kv, uint32_t id_count);
  // Brings `recorded` (d's members at the snapshot taken at change
  // `snapshot_seq`) up to date with the changes stored after it, reading
  // them through `changes`, then records where d's members differ from it.
  // DataLoss for a corrupt record, or the store's error.
  absl::Status RecordSinceSnapshot(const Definition& d, bitmap::Bitmap recorded, uint64_t snapshot_seq,
                                   store::Iterator& changes, TimeMs now, store::WriteBatch* batch);
  // d's stored changes with seq > after_seq and at >= since, oldest first,
  // at most `limit`. DataLoss for a corrupt record, or the store's error.
  static absl::StatusOr<std::vector<MembershipChange>> ReadChanges(const store::KvStore& kv, const Definition& d,
                                                                   TimeMs since, uint64_t after_seq, size_t limit);
  // The last change sequence number given.
  uint64_t change_seq() const { return change_seq_; }
  // Changes recorded since construction.
  uint64_t changes_recorded() const { return changes_recorded_; }

  size_t MemoryBytes() const { return rows_.MemoryBytes(); }

 private:
  const DefinitionGraph& graph_;
  LiveAggregates& aggregates_;
  const PersonTable& table_;

  // Per person: membership of every definition (by slot) and the earliest
  // instant a time-dependent answer may change (its wake-up). The timer
  // heap may hold stale entries (checked against the row's wake-up).
  PersonRows rows_;
  std::vector<uint32_t> free_slots_;
  uint32_t slots_used_ = 0;
  using Timer = std::pair<TimeMs, PersonId>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> heap_;

  // By definition: 0, kMarkEvaluate or kMarkIfAggregatesChange.
  std::vector<uint8_t> dirty_;
  // Persons every definition has been evaluated for.
  bitmap::Bitmap known_;

  uint64_t change_seq_ = 0;
  uint64_t changes_recorded_ = 0;
  // Reused buffers: an event can move a person in or out of dozens of
  // definitions.
  std::string change_key_, change_value_;
};

}  // namespace facet::segments::internal
