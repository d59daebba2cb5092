// Catalog::State: the catalog's definitions, membership bitmaps, per-person
// rows, timers and live aggregate columns, and the operations Catalog's
// public methods are built from (installing, recomputing and re-evaluating
// definitions, recording changes). Private to catalog*.cc.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/str_cat.h"
#include "segments/catalog.h"
#include "segments/evaluator.h"
#include "segments/internal/catalog_record.h"
#include "segments/internal/person_rows.h"
#include "segments/numeric_index.h"
#include "segments/parser.h"
#include "store/key_codec.h"
#include "bitmap/bitmap.h"

namespace facet::segments {
namespace internal {

inline constexpr std::string_view kDefPrefix = "def/";
inline constexpr std::string_view kManualPrefix = "man/";
inline constexpr std::string_view kSnapshotPrefix = "snap/";
inline constexpr std::string_view kNextIdKey = "meta/next_id";
// The change sequence number when the membership snapshots were taken.
inline constexpr std::string_view kSnapshotSeqKey = "meta/snapshot_seq";

inline std::string IdKey(std::string_view prefix, uint32_t id) {
  std::string k(prefix);
  store::PutFixed32BE(&k, id);
  return k;
}

}  // namespace internal

struct Catalog::State {
  struct Def {
    uint32_t id = 0;
    uint32_t slot = 0;  // its membership bit in `rows`
    bool is_segment = false;
    TagDef tag;
    SegmentDef segment;
    std::optional<CompiledExpr> expr;  // rule tags and segments
    bitmap::Bitmap members;              // live persons (roots)
    bitmap::Bitmap manual_atoms;         // manual/model tags: the persons labelled, as atoms
    std::vector<NumericIndex*> columns;  // live columns of expr's aggregates (filled on first use)
    std::vector<uint32_t> column_marks;  // each column's index into State::column_state
    bool columns_bound = false;
    const std::string& name() const { return is_segment ? segment.name : tag.name; }
  };

  State(store::KvStore& kv, PersonTable& table, CatalogOptions options)
      : kv(kv), table(table), options(options) {}

  store::KvStore& kv;
  PersonTable& table;
  CatalogOptions options;

  std::vector<std::unique_ptr<Def>> defs;  // by id; null when deleted
  std::map<std::string, uint32_t, std::less<>> tags_by_name, segments_by_name;
  uint32_t next_id = 0;
  uint64_t generation = 0;  // bumped whenever a definition is installed or removed
  uint64_t change_seq = 0;
  uint64_t changes_recorded = 0;

  // Evaluation order: every definition after those it references.
  std::vector<uint32_t> order;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> by_event, by_trait;
  std::vector<uint32_t> any_event, time_dependent;
  // Numeric trait columns definitions compare (those that existed at the
  // last Reindex; the table never drops a column).
  std::vector<const NumericIndex*> compared_trait_columns;
  std::vector<std::vector<uint32_t>> dependents;  // by id

  // Per person: membership of every definition (by slot) and the earliest
  // instant a time-dependent answer may change (its wake-up). The timer
  // heap may hold stale entries (checked against the row's wake-up).
  internal::PersonRows rows;
  std::vector<uint32_t> free_slots;
  uint32_t slots_used = 0;
  using Timer = std::pair<TimeMs, PersonId>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> heap;

  uint32_t AcquireSlot() {
    if (!free_slots.empty()) {
      uint32_t slot = free_slots.back();
      free_slots.pop_back();
      return slot;
    }
    rows.ReserveSlots(slots_used + 1);
    return slots_used++;
  }

  // Frees d's slot for another definition (its bits cleared).
  void ReleaseSlot(Def& d) {
    d.members.ForEach([&](PersonId p) {
      rows.SetMember(p, d.slot, false);
      return true;
    });
    free_slots.push_back(d.slot);
  }

  // Replaces d's members by `fresh`, recording the changes when `batch` is
  // given.
  void AssignMembers(Def& d, bitmap::Bitmap fresh, TimeMs now, store::WriteBatch* batch) {
    (fresh - d.members).ForEach([&](PersonId p) {
      rows.SetMember(p, d.slot, true);
      if (batch) RecordChange(d, p, true, now, batch);
      return true;
    });
    (d.members - fresh).ForEach([&](PersonId p) {
      rows.SetMember(p, d.slot, false);
      if (batch) RecordChange(d, p, false, now, batch);
      return true;
    });
    d.members = std::move(fresh);
  }

  // References evaluated at an as_of other than now: from their rules at
  // that instant instead of from live members.
  struct AsOfRefs : RefResolver {
    explicit AsOfRefs(State& s) : s(s) {}
    bitmap::Bitmap Members(uint32_t ref, TimeMs as_of, const bitmap::Bitmap& candidates) override {
      Def& d = *s.defs[ref];
      return d.expr ? d.expr->Select(candidates, as_of, this) : d.members & candidates;
    }
    bool Contains(uint32_t ref, PersonId person, TimeMs as_of, TimeMs* next_change) override {
      Def& d = *s.defs[ref];
      return d.expr ? d.expr->Matches(person, as_of, this, next_change) : s.IsMember(d, person);
    }
    State& s;
  };

  // Scratch for Reevaluate: per definition whether to re-evaluate it
  // (kEvaluate) or only if one of its aggregates changes value
  // (kIfAggregatesChange); per aggregate column (by mark) whether it was
  // updated for this person yet, and whether its value changed; the marks
  // set, to clear them after.
  static constexpr uint8_t kEvaluate = 1, kIfAggregatesChange = 2;
  static constexpr uint8_t kColumnUnchanged = 1, kColumnChanged = 2;
  std::vector<uint8_t> dirty;
  std::vector<uint8_t> event_mark;  // by definition: how events and timers mark it
  std::vector<uint8_t> column_state;
  std::vector<uint32_t> marked_columns;
  absl::flat_hash_map<const NumericIndex*, uint32_t> column_marks;
  // Persons every definition has been evaluated for; a person seen for the
  // first time is evaluated against all of them.
  bitmap::Bitmap known;

  // Aggregates that live definitions compare, kept per person at now so
  // that previews answer them from a range index.
  absl::flat_hash_map<std::string, std::unique_ptr<NumericIndex>> aggregates;

  NumericIndex& AggregateColumn(const std::string& key) {
    auto& c = aggregates[key];
    if (!c) c = std::make_unique<NumericIndex>();
    return *c;
  }

  // Points d.columns at the live columns of d's aggregates.
  void BindColumns(Def& d) {
    if (d.columns_bound) return;
    d.columns.clear();
    d.column_marks.clear();
    for (size_t i = 0; i < d.expr->aggregate_count(); ++i) {
      NumericIndex* c = &AggregateColumn(d.expr->aggregate_key(i));
      auto [it, added] = column_marks.try_emplace(c, static_cast<uint32_t>(column_marks.size()));
      if (added) column_state.push_back(0);
      d.columns.push_back(c);
      d.column_marks.push_back(it->second);
    }
    d.expr->BindLive(d.columns);
    d.columns_bound = true;
  }

  // Updates the live aggregates of d for person p (row: null when p is not
  // live), skipping columns already updated for p since the last
  // ClearColumnMarks() (aggregates shared by definitions). Returns whether
  // any of d's aggregates changed value (here or before).
  bool UpdateAggregates(Def& d, PersonId p, const PersonTable::Person* row, TimeMs now, TimeMs* next) {
    BindColumns(d);
    bool changed = false;
    for (size_t i = 0; i < d.columns.size(); ++i) {
      uint8_t& state = column_state[d.column_marks[i]];
      if (state == 0) {
        const bool set = d.columns[i]->Set(p, row ? d.expr->AggregateValue(i, *row, p, now, next) : std::nullopt);
        state = set ? kColumnChanged : kColumnUnchanged;
        marked_columns.push_back(d.column_marks[i]);
      }
      changed |= state == kColumnChanged;
    }
    return changed;
  }

  void ClearColumnMarks() {
    for (uint32_t m : marked_columns) column_state[m] = 0;
    marked_columns.clear();
  }

  Def* Find(bool segment, std::string_view name) const {
    const auto& m = segment ? segments_by_name : tags_by_name;
    auto it = m.find(name);
    return it == m.end() ? nullptr : defs[it->second].get();
  }

  RefLookup Lookup() const {
    return [this](Expr::Kind kind, std::string_view name) -> absl::StatusOr<uint32_t> {
      bool segment = kind == Expr::Kind::kSegmentRef;
      Def* d = Find(segment, name);
      if (!d) return absl::NotFoundError(Cat("unknown ", segment ? "segment" : "tag", " '", name, "'"));
      return d->id;
    };
  }

  void RecordChange(Def& d, PersonId p, bool entered, TimeMs now, store::WriteBatch* batch) {
    ++change_seq;
    ++changes_recorded;
    // Reused buffers: an event can move a person in or out of dozens of
    // definitions.
    change_key.clear();
    store::PutFixed32BE(&change_key, d.id);
    store::PutFixed64BE(&change_key, change_seq);
    change_value.clear();
    store::PutFixed32BE(&change_value, p);
    change_value.push_back(entered ? 1 : 0);
    store::PutInt64Ordered(&change_value, now);
    batch->Put(store::Column::kChanges, change_key, change_value);
  }
  std::string change_key, change_value;

  // Sets p's membership of d, recording a change. Returns whether it changed.
  bool SetMember(Def& d, PersonId p, bool in, TimeMs now, store::WriteBatch* batch) {
    if (!rows.SetMember(p, d.slot, in)) return false;
    if (in) {
      d.members.Add(p);
    } else {
      d.members.Remove(p);
    }
    if (batch) RecordChange(d, p, in, now, batch);
    return true;
  }

  bool IsMember(const Def& d, PersonId p) const { return rows.Member(p, d.slot); }

  void Schedule(PersonId p, TimeMs at) {
    if (at == CompiledExpr::kNever || rows.Wake(p) <= at) return;
    rows.SetWake(p, at);
    heap.emplace(at, p);
  }

  // Re-evaluates the definitions marked in `dirty` (and, when one changes,
  // those referring to it) for person p, in dependency order.
  void Reevaluate(PersonId p, TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
    TimeMs next = CompiledExpr::kNever;
    // The person's value in each column is read (and most are written)
    // below: one cache miss each, taken together here.
    for (const auto& [key, column] : aggregates) column->Prefetch(p);
    for (const NumericIndex* column : compared_trait_columns) column->Prefetch(p);
    rows.Prefetch(p);
    ClearColumnMarks();
    if (known.AddChecked(p)) MarkAll(order);
    const PersonTable::Person* row = table.Get(p);  // null: not live
    if (row) PrefetchEvents(*row);
    for (uint32_t id : order) {
      const uint8_t why = dirty[id];
      if (!why) continue;
      dirty[id] = 0;
      Def& d = *defs[id];
      const bool aggregates_changed = UpdateAggregates(d, p, row, now, &next);
      // Only its aggregates could have moved it, and they did not.
      if (why == kIfAggregatesChange && !aggregates_changed) continue;
      bool in = row && d.expr->MatchesLive(*row, p, now, refs, &next);
      if (SetMember(d, p, in, now, batch)) {
        for (uint32_t dep : dependents[id]) dirty[dep] = kEvaluate;
      }
    }
    Schedule(p, next);
  }

  // The aggregates below search and scan the person's events and read
  // their properties: start loading (the first few KB of) both at once.
  static void PrefetchEvents(const PersonTable::Person& row) {
    constexpr size_t kMaxLines = 64;
    auto lines = [](const auto& v) {
      const char* begin = reinterpret_cast<const char*>(v.data());
      const char* end = begin + std::min(v.size() * sizeof(v[0]), kMaxLines * 64);
      for (const char* at = begin; at < end; at += 64) __builtin_prefetch(at);
    };
    lines(row.events);
    lines(row.cells);
  }

  void MarkAll(const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) dirty[id] = kEvaluate;
  }

  // Marks definitions that events or time reach: those that read them only
  // through aggregates need re-evaluating only when an aggregate changes.
  void MarkForEventsOrTime(const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) {
      if (dirty[id] == kEvaluate) continue;
      dirty[id] = event_mark[id];
    }
  }

  // Recomputes indexes and the evaluation order after a definition change.
  void Reindex() {
    order.clear();
    by_event.clear();
    by_trait.clear();
    any_event.clear();
    time_dependent.clear();
    dependents.assign(defs.size(), {});
    dirty.assign(defs.size(), 0);
    event_mark.assign(defs.size(), kEvaluate);
    std::vector<uint8_t> state(defs.size(), 0);
    std::function<void(uint32_t)> visit = [&](uint32_t id) {
      if (state[id]) return;
      state[id] = 1;
      Def& d = *defs[id];
      for (uint32_t r : d.expr->refs()) {
        dependents[r].push_back(id);
        if (defs[r]->expr) visit(r);
      }
      order.push_back(id);
    };
    for (const auto& d : defs) {
      if (!d || !d->expr) continue;
      visit(d->id);
      for (uint32_t e : d->expr->event_names()) by_event[e].push_back(d->id);
      for (uint32_t t : d->expr->trait_keys()) by_trait[t].push_back(d->id);
      if (d->expr->any_event()) any_event.push_back(d->id);
      if (d->expr->time_dependent()) time_dependent.push_back(d->id);
      if (d->expr->events_only_through_aggregates()) event_mark[d->id] = kIfAggregatesChange;
    }
    for (auto& v : dependents) {
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    }
    compared_trait_columns.clear();
    for (const auto& [key, ids] : by_trait) {
      if (const NumericIndex* column = table.NumericTrait(key)) compared_trait_columns.push_back(column);
    }
  }

  // Stores the new or replacing definition d (`old`: the one it replaces,
  // whose id and members it takes over) and computes its members; a
  // replacement records the changes and recomputes what refers to it.
  void Install(std::unique_ptr<Def> d, Def* old, TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
    ++generation;
    const bool old_labelled = old && !old->expr;
    if (old) {
      d->slot = old->slot;
      d->members = std::move(old->members);
      d->manual_atoms = std::move(old->manual_atoms);
    } else {
      d->slot = AcquireSlot();
      ++next_id;
      defs.resize(next_id);
      batch->Put(store::Column::kCatalog, internal::kNextIdKey, store::Fixed64Key(next_id));
    }
    batch->Put(store::Column::kCatalog, internal::IdKey(internal::kDefPrefix, d->id), EncodeDef(*d));
    const uint32_t id = d->id;
    (d->is_segment ? segments_by_name : tags_by_name)[d->name()] = id;
    defs[id] = std::move(d);
    Reindex();
    Def& nd = *defs[id];
    if (nd.expr) {
      Recompute(nd, now, old ? batch : nullptr, refs);
    } else if (!old_labelled) {
      // Manual members follow merges in `members` (the atoms labelled may
      // have been absorbed since): only a tag that was not manual starts over.
      AssignMembers(nd, nd.manual_atoms & table.live(), now, nullptr);
    }
    if (old) RecomputeDependents(id, now, batch, refs);
  }

  // Deletes definition d unless another refers to it (FailedPrecondition).
  absl::Status Remove(Def& d, store::WriteBatch* batch) {
    ++generation;
    const char* kind = d.is_segment ? "segment '" : "tag '";
    if (!dependents[d.id].empty()) {
      const Def& o = *defs[dependents[d.id].front()];
      return absl::FailedPreconditionError(
          Cat(kind, d.name(), "' is referenced by ", o.is_segment ? "segment '" : "tag '", o.name(), "'"));
    }
    const uint32_t id = d.id;
    for (std::string_view prefix : {internal::kDefPrefix, internal::kManualPrefix, internal::kSnapshotPrefix}) {
      batch->Delete(store::Column::kCatalog, internal::IdKey(prefix, id));
    }
    auto& by_name = d.is_segment ? segments_by_name : tags_by_name;
    by_name.erase(by_name.find(d.name()));
    ReleaseSlot(d);
    defs[id].reset();
    Reindex();
    PruneAggregates();
    return absl::OkStatus();
  }

  // Drops live aggregates no definition compares any more.
  void PruneAggregates() {
    absl::flat_hash_map<std::string, bool> used;
    for (const auto& d : defs) {
      if (!d || !d->expr) continue;
      for (size_t i = 0; i < d->expr->aggregate_count(); ++i) used[d->expr->aggregate_key(i)] = true;
    }
    for (auto it = aggregates.begin(); it != aggregates.end();) {
      if (!used.contains(it->first)) {
        aggregates.erase(it++);
      } else {
        ++it;
      }
    }
  }

  // Whether `target` is reachable from the references of `expr`.
  bool Reaches(const std::vector<uint32_t>& refs, uint32_t target) const {
    std::vector<uint32_t> stack(refs.begin(), refs.end());
    std::vector<uint8_t> seen(defs.size(), 0);
    while (!stack.empty()) {
      uint32_t id = stack.back();
      stack.pop_back();
      if (id == target) return true;
      if (seen[id]) continue;
      seen[id] = 1;
      if (defs[id] && defs[id]->expr) stack.insert(stack.end(), defs[id]->expr->refs().begin(), defs[id]->expr->refs().end());
    }
    return false;
  }

  std::string EncodeDef(const Def& d) const {
    return internal::EncodeCatalogRecord(d.is_segment, d.tag, d.segment);
  }

  static absl::StatusOr<std::unique_ptr<Def>> DecodeDef(uint32_t id, std::string_view in) {
    auto d = std::make_unique<Def>();
    d->id = id;
    if (!internal::DecodeCatalogRecord(in, &d->is_segment, &d->tag, &d->segment)) {
      return absl::DataLossError(Cat("catalog record ", id, " is corrupt"));
    }
    return d;
  }

  absl::Status CompileDef(Def& d) {
    const std::string& text = d.is_segment ? d.segment.expression : d.tag.rule;
    ASSIGN_OR_RETURN(Expr e, Parse(text));
    ASSIGN_OR_RETURN(CompiledExpr c, Compile(e, table, Lookup(), options.eval));
    d.expr = std::move(c);
    return absl::OkStatus();
  }

  int Depth(const std::string& parent) const {
    int depth = 1;
    std::string p = parent;
    while (!p.empty() && depth <= 16) {
      Def* d = Find(false, p);
      if (!d) break;
      p = d->tag.parent;
      ++depth;
    }
    return depth;
  }

  // Evaluates a rule definition for every live person at `now`, recording
  // changes against its current members when `batch` is given.
  //
  // A definition reading events and time only through aggregates is
  // selected by the bitmap plan once its aggregate columns are current (and
  // its timers set from them); others person by person. `current`
  // (optional) lists the aggregate columns already computed at `now` for
  // every live person, which are skipped and to which the ones computed
  // here are added.
  void Recompute(Def& d, TimeMs now, store::WriteBatch* batch, RefResolver* refs,
                 std::vector<NumericIndex*>* current = nullptr) {
    const bool timed = d.expr->time_dependent();
    const bool by_plan = d.expr->events_only_through_aggregates();
    BindColumns(d);
    std::vector<size_t> stale;  // d's aggregates to compute
    for (size_t i = 0; i < d.columns.size(); ++i) {
      if (!current || std::find(current->begin(), current->end(), d.columns[i]) == current->end()) {
        stale.push_back(i);
      }
    }
    std::vector<PersonId> in;
    if (!by_plan || !stale.empty()) {
      TimeMs dummy;
      table.live().ForEach([&](PersonId p) {
        TimeMs next = CompiledExpr::kNever;
        const PersonTable::Person* row = table.Get(p);
        for (size_t i : stale) {
          d.columns[i]->Set(p, row ? d.expr->AggregateValue(i, *row, p, now, timed ? &next : &dummy) : std::nullopt);
        }
        if (!by_plan && row && d.expr->Matches(*row, p, now, refs, timed ? &next : &dummy, &d.columns)) {
          in.push_back(p);
        }
        if (timed) Schedule(p, next);
        return true;
      });
    }
    if (current) {
      for (size_t i : stale) current->push_back(d.columns[i]);
    }
    known |= table.live();
    bitmap::Bitmap fresh = by_plan ? d.expr->Select(table.live(), now, refs) : bitmap::Bitmap::Of(in);
    fresh.Optimize();
    fresh.Densify();
    AssignMembers(d, std::move(fresh), now, batch);
    for (NumericIndex* c : d.columns) c->Compact();
  }

  // Recomputes every definition that (transitively) refers to `id`.
  void RecomputeDependents(uint32_t id, TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
    std::vector<uint8_t> affected(defs.size(), 0);
    affected[id] = 1;
    for (uint32_t o : order) {
      if (o == id) continue;
      for (uint32_t r : defs[o]->expr->refs()) {
        if (affected[r]) affected[o] = 1;
      }
      if (affected[o]) Recompute(*defs[o], now, batch, refs);
    }
  }
};

}  // namespace facet::segments
