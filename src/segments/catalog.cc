#include "segments/catalog.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "segments/parser.h"
#include "segments/internal/catalog_record.h"
#include "segments/internal/person_rows.h"
#include "segments/numeric_index.h"
#include "store/key_codec.h"

namespace facet::segments {
namespace {

using store::Column;

// Concatenates text and integers into a message.
void Append(std::string* out, std::string_view s) { out->append(s); }
void Append(std::string* out, const char* s) { out->append(s); }
void Append(std::string* out, const std::string& s) { out->append(s); }
void Append(std::string* out, absl::string_view s) { out->append(s.data(), s.size()); }
template <typename T>
  requires std::is_integral_v<T>
void Append(std::string* out, T v) {
  out->append(std::to_string(v));
}
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (Append(&out, args), ...);
  return out;
}

constexpr std::string_view kDefPrefix = "def/";
constexpr std::string_view kManualPrefix = "man/";
constexpr std::string_view kSnapshotPrefix = "snap/";
constexpr std::string_view kNextIdKey = "meta/next_id";

std::string IdKey(std::string_view prefix, uint32_t id) {
  std::string k(prefix);
  store::PutFixed32BE(&k, id);
  return k;
}

absl::Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(StrCat(what, " name must be 1 to 128 bytes long"));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '"' || c == '\'' || c == '\\') {
      return absl::InvalidArgumentError(
          StrCat(what, " name '", name, "' may not contain '/', quotes, backslashes or control characters"));
    }
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return absl::InvalidArgumentError(StrCat(what, " name '", name, "' may not start or end with a space"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view TagKindName(TagKind k) {
  switch (k) {
    case TagKind::kRule: return "rule";
    case TagKind::kManual: return "manual";
    case TagKind::kModel: return "model";
  }
  return "?";
}

struct Catalog::State {
  struct Def {
    uint32_t id = 0;
    uint32_t slot = 0;  // its membership bit in `rows`
    bool is_segment = false;
    TagDef tag;
    SegmentDef segment;
    std::optional<CompiledExpr> expr;  // rule tags and segments
    tags::Bitmap members;              // live persons (roots)
    tags::Bitmap manual_atoms;         // manual/model tags: the persons labelled, as atoms
    std::vector<NumericIndex*> columns;  // live columns of expr's aggregates (filled on first use)
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
  uint64_t change_seq = 0;
  uint64_t changes_recorded = 0;

  // Evaluation order: every definition after those it references.
  std::vector<uint32_t> order;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> by_event, by_trait;
  std::vector<uint32_t> any_event, time_dependent;
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
  void AssignMembers(Def& d, tags::Bitmap fresh, TimeMs now, store::WriteBatch* batch) {
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
    tags::Bitmap Members(uint32_t ref, TimeMs as_of, const tags::Bitmap& candidates) override {
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
  // (kIfAggregatesChange); the columns updated so far, and whether their
  // value changed.
  static constexpr uint8_t kEvaluate = 1, kIfAggregatesChange = 2;
  std::vector<uint8_t> dirty;
  std::vector<std::pair<NumericIndex*, bool>> updated_columns;
  // Persons every definition has been evaluated for; a person seen for the
  // first time is evaluated against all of them.
  tags::Bitmap known;

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
    if (d.columns.size() == d.expr->aggregate_count()) return;
    d.columns.clear();
    for (size_t i = 0; i < d.expr->aggregate_count(); ++i) {
      d.columns.push_back(&AggregateColumn(d.expr->aggregate_key(i)));
    }
  }

  // Updates the live aggregates of d for person p (row: null when p is not
  // live), skipping columns already in `done` (aggregates shared by
  // definitions). Returns whether any of d's aggregates changed value
  // (here or when listed in `done`).
  bool UpdateAggregates(Def& d, PersonId p, const PersonTable::Person* row, TimeMs now, TimeMs* next,
                        std::vector<std::pair<NumericIndex*, bool>>* done = nullptr) {
    BindColumns(d);
    bool changed = false;
    for (size_t i = 0; i < d.columns.size(); ++i) {
      NumericIndex* c = d.columns[i];
      if (done) {
        auto it = std::find_if(done->begin(), done->end(), [c](const auto& u) { return u.first == c; });
        if (it != done->end()) {
          changed |= it->second;
          continue;
        }
      }
      const bool set = c->Set(p, row ? d.expr->AggregateValue(i, *row, p, now, next) : std::nullopt);
      if (done) done->emplace_back(c, set);
      changed |= set;
    }
    return changed;
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
      if (!d) return absl::NotFoundError(StrCat("unknown ", segment ? "segment" : "tag", " '", name, "'"));
      return d->id;
    };
  }

  void RecordChange(Def& d, PersonId p, bool entered, TimeMs now, store::WriteBatch* batch) {
    ++change_seq;
    ++changes_recorded;
    std::string key;
    store::PutFixed32BE(&key, d.id);
    store::PutFixed64BE(&key, change_seq);
    std::string value;
    store::PutFixed32BE(&value, p);
    value.push_back(entered ? 1 : 0);
    store::PutInt64Ordered(&value, now);
    batch->Put(Column::kChanges, key, value);
  }

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
    updated_columns.clear();
    if (known.AddChecked(p)) MarkAll(order);
    const PersonTable::Person* row = table.Get(p);  // null: not live
    for (uint32_t id : order) {
      const uint8_t why = dirty[id];
      if (!why) continue;
      dirty[id] = 0;
      Def& d = *defs[id];
      const bool aggregates_changed = UpdateAggregates(d, p, row, now, &next, &updated_columns);
      // Only its aggregates could have moved it, and they did not.
      if (why == kIfAggregatesChange && !aggregates_changed) continue;
      bool in = row && d.expr->Matches(*row, p, now, refs, &next, &d.columns);
      if (SetMember(d, p, in, now, batch)) {
        for (uint32_t dep : dependents[id]) dirty[dep] = kEvaluate;
      }
    }
    Schedule(p, next);
  }

  void MarkAll(const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) dirty[id] = kEvaluate;
  }

  // Marks definitions that events or time reach: those that read them only
  // through aggregates need re-evaluating only when an aggregate changes.
  void MarkForEventsOrTime(const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) {
      if (dirty[id] == kEvaluate) continue;
      dirty[id] = defs[id]->expr->events_only_through_aggregates() ? kIfAggregatesChange : kEvaluate;
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
    }
    for (auto& v : dependents) {
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    }
  }

  // Stores the new or replacing definition d (`old`: the one it replaces,
  // whose id and members it takes over) and computes its members; a
  // replacement records the changes and recomputes what refers to it.
  void Install(std::unique_ptr<Def> d, Def* old, TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
    const bool old_labelled = old && !old->expr;
    if (old) {
      d->slot = old->slot;
      d->members = std::move(old->members);
      d->manual_atoms = std::move(old->manual_atoms);
    } else {
      d->slot = AcquireSlot();
      ++next_id;
      defs.resize(next_id);
      batch->Put(Column::kCatalog, kNextIdKey, store::Fixed64Key(next_id));
    }
    batch->Put(Column::kCatalog, IdKey(kDefPrefix, d->id), EncodeDef(*d));
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
    const char* kind = d.is_segment ? "segment '" : "tag '";
    if (!dependents[d.id].empty()) {
      const Def& o = *defs[dependents[d.id].front()];
      return absl::FailedPreconditionError(
          StrCat(kind, d.name(), "' is referenced by ", o.is_segment ? "segment '" : "tag '", o.name(), "'"));
    }
    const uint32_t id = d.id;
    for (std::string_view prefix : {kDefPrefix, kManualPrefix, kSnapshotPrefix}) {
      batch->Delete(Column::kCatalog, IdKey(prefix, id));
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
      return absl::DataLossError(StrCat("catalog record ", id, " is corrupt"));
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
    tags::Bitmap fresh = by_plan ? d.expr->Select(table.live(), now, refs) : tags::Bitmap::Of(in);
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

Catalog::Catalog(store::KvStore& kv, PersonTable& table, CatalogOptions options)
    : state_(std::make_unique<State>(kv, table, options)) {}

Catalog::~Catalog() = default;

absl::Status Catalog::Load(TimeMs now, const std::function<PersonId(PersonId)>& root_of, store::WriteBatch* batch) {
  State& s = *state_;
  auto get_counter = [&](std::string_view key, uint64_t* out) -> absl::Status {
    absl::StatusOr<std::string> v = s.kv.Get(Column::kCatalog, key);
    if (absl::IsNotFound(v.status())) return absl::OkStatus();
    RETURN_IF_ERROR(v.status());
    if (v->size() != 8) return absl::DataLossError(StrCat("catalog counter ", key, " is corrupt"));
    *out = store::DecodeFixed64BE(*v);
    return absl::OkStatus();
  };
  uint64_t next_id = 0;
  RETURN_IF_ERROR(get_counter(kNextIdKey, &next_id));
  s.next_id = static_cast<uint32_t>(next_id);
  s.defs.clear();
  s.defs.resize(s.next_id);
  s.rows = internal::PersonRows();
  s.free_slots.clear();
  s.slots_used = 0;
  std::map<uint32_t, tags::Bitmap> snapshots;
  auto it = s.kv.NewIterator(Column::kCatalog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    auto id_of = [&](std::string_view prefix) -> absl::StatusOr<uint32_t> {
      if (key.size() != prefix.size() + 4) return absl::DataLossError("catalog key is corrupt");
      uint32_t id = store::DecodeFixed32BE(key.substr(prefix.size()));
      if (id >= s.next_id) return absl::DataLossError(StrCat("catalog id ", id, " beyond the counter"));
      return id;
    };
    if (key.starts_with(kDefPrefix)) {
      ASSIGN_OR_RETURN(uint32_t id, id_of(kDefPrefix));
      ASSIGN_OR_RETURN(s.defs[id], State::DecodeDef(id, it->value()));
      s.defs[id]->slot = s.AcquireSlot();
    } else if (key.starts_with(kManualPrefix) || key.starts_with(kSnapshotPrefix)) {
      bool manual = key.starts_with(kManualPrefix);
      ASSIGN_OR_RETURN(uint32_t id, id_of(manual ? kManualPrefix : kSnapshotPrefix));
      absl::StatusOr<tags::Bitmap> b = tags::Bitmap::Decode(it->value());
      if (!b.ok()) {
        return absl::DataLossError(
            StrCat(manual ? "manual members" : "membership snapshot", " of catalog entry ", id, ": ",
                         b.status().message()));
      }
      if (manual) {
        if (!s.defs[id]) return absl::DataLossError(StrCat("manual members of unknown catalog entry ", id));
        s.defs[id]->manual_atoms = std::move(*b);
      } else {
        snapshots[id] = std::move(*b);
      }
    }
  }
  RETURN_IF_ERROR(it->status());
  for (auto& d : s.defs) {
    if (!d) continue;
    auto& m = d->is_segment ? s.segments_by_name : s.tags_by_name;
    m[d->name()] = d->id;
  }
  // Compile after all names are known (references may point forward).
  for (auto& d : s.defs) {
    if (!d) continue;
    if (d->is_segment || d->tag.kind == TagKind::kRule) {
      absl::Status st = s.CompileDef(*d);
      if (!st.ok()) return absl::DataLossError(StrCat("stored rule of '", d->name(), "': ", st.message()));
    }
  }
  // The change sequence goes on from the highest one stored.
  {
    auto changes = s.kv.NewIterator(Column::kChanges);
    for (uint32_t id = 0; id < s.next_id; ++id) {
      std::string last;
      store::PutFixed32BE(&last, id);
      store::PutFixed64BE(&last, UINT64_MAX);
      changes->SeekForPrev(last);
      if (changes->Valid() && changes->key().size() == 12 && store::DecodeFixed32BE(changes->key()) == id) {
        s.change_seq = std::max(s.change_seq, store::DecodeFixed64BE(changes->key().substr(4)));
      }
    }
    RETURN_IF_ERROR(changes->status());
  }
  s.Reindex();
  // Manual members: the roots of the atoms labelled.
  for (auto& d : s.defs) {
    if (!d || d->expr) continue;
    std::vector<PersonId> roots;
    d->manual_atoms.ForEach([&](PersonId a) {
      PersonId r = root_of(a);
      if (s.table.live().Contains(r)) roots.push_back(r);
      return true;
    });
    std::sort(roots.begin(), roots.end());
    s.AssignMembers(*d, tags::Bitmap::Of(roots), now, nullptr);
  }
  std::vector<NumericIndex*> current;  // aggregate columns computed at now
  for (uint32_t id : s.order) {
    State::Def& d = *s.defs[id];
    s.Recompute(d, now, nullptr, this, &current);
    auto snap = snapshots.find(id);
    if (snap != snapshots.end() && batch) {
      (d.members - snap->second).ForEach([&](PersonId p) { s.RecordChange(d, p, true, now, batch); return true; });
      (snap->second - d.members).ForEach([&](PersonId p) { s.RecordChange(d, p, false, now, batch); return true; });
    }
  }
  return absl::OkStatus();
}

absl::Status Catalog::PutTag(TagDef def, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  RETURN_IF_ERROR(ValidateName("tag", def.name));
  if (def.display_name.empty()) def.display_name = def.name;
  if (!def.parent.empty()) {
    State::Def* parent = s.Find(false, def.parent);
    if (!parent) return absl::NotFoundError(StrCat("parent tag '", def.parent, "' does not exist"));
    for (std::string p = def.parent; !p.empty();) {
      if (p == def.name) return absl::InvalidArgumentError(StrCat("parent '", def.parent, "' would make a cycle"));
      State::Def* pd = s.Find(false, p);
      p = pd ? pd->tag.parent : "";
    }
    if (s.Depth(def.parent) > static_cast<int>(s.options.max_depth)) {
      return absl::InvalidArgumentError(StrCat("tag '", def.name, "' under '", def.parent,
                                                     "' would be deeper than ", s.options.max_depth, " levels"));
    }
  }
  if (def.kind == TagKind::kRule && def.rule.empty()) {
    return absl::InvalidArgumentError(StrCat("rule tag '", def.name, "' needs a rule"));
  }
  if (def.kind != TagKind::kRule && !def.rule.empty()) {
    return absl::InvalidArgumentError(StrCat(TagKindName(def.kind), " tag '", def.name, "' cannot have a rule"));
  }
  State::Def* old = s.Find(false, def.name);
  if (old && old->tag.kind != def.kind && !old->manual_atoms.Empty()) {
    return absl::FailedPreconditionError(
        StrCat("tag '", def.name, "' has ", TagKindName(old->tag.kind), " members; remove them to change its kind"));
  }
  auto d = std::make_unique<State::Def>();
  d->id = old ? old->id : s.next_id;
  def.created_at = old ? old->tag.created_at : now;
  def.updated_at = now;
  d->tag = std::move(def);
  if (d->tag.kind == TagKind::kRule) {
    absl::Status st = s.CompileDef(*d);
    if (!st.ok()) return Annotate(st, StrCat("rule of tag '", d->tag.name, "'"));
    if (s.Reaches(d->expr->refs(), d->id)) {
      return absl::FailedPreconditionError(StrCat("rule of tag '", d->tag.name, "' refers back to itself"));
    }
  }
  s.Install(std::move(d), old, now, batch, this);
  return absl::OkStatus();
}

absl::Status Catalog::DeleteTag(std::string_view name, store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(false, name);
  if (!d) return absl::NotFoundError(StrCat("tag '", name, "' does not exist"));
  for (const auto& o : s.defs) {
    if (o && !o->is_segment && o->tag.parent == name) {
      return absl::FailedPreconditionError(StrCat("tag '", name, "' has child tag '", o->tag.name, "'"));
    }
  }
  return s.Remove(*d, batch);
}

absl::StatusOr<TagDef> Catalog::GetTag(std::string_view name) const {
  State::Def* d = state_->Find(false, name);
  if (!d) return absl::NotFoundError(StrCat("tag '", name, "' does not exist"));
  return d->tag;
}

std::vector<TagDef> Catalog::ListTags() const {
  const State& s = *state_;
  std::vector<TagDef> out;
  std::function<void(const std::string&)> add = [&](const std::string& parent) {
    for (const auto& [name, id] : s.tags_by_name) {
      if (s.defs[id]->tag.parent == parent) {
        out.push_back(s.defs[id]->tag);
        add(name);
      }
    }
  };
  add("");
  return out;
}

absl::StatusOr<size_t> Catalog::AddMembers(std::string_view tag, std::span<const PersonId> persons, TimeMs now,
                                           store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(false, tag);
  if (!d) return absl::NotFoundError(StrCat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(StrCat("tag '", tag, "' is a rule tag; its members follow its rule"));
  size_t added = 0;
  for (PersonId p : persons) {
    d->manual_atoms.Add(p);
    if (s.table.live().Contains(p) && s.SetMember(*d, p, true, now, batch)) {
      ++added;
      for (uint32_t dep : s.dependents[d->id]) s.dirty[dep] = State::kEvaluate;
      s.Reevaluate(p, now, batch, this);
    }
  }
  d->manual_atoms.Optimize();
  batch->Put(Column::kCatalog, IdKey(kManualPrefix, d->id), d->manual_atoms.Encode());
  return added;
}

absl::StatusOr<size_t> Catalog::RemoveMembers(std::string_view tag, std::span<const PersonId> persons, TimeMs now,
                                              store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(false, tag);
  if (!d) return absl::NotFoundError(StrCat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(StrCat("tag '", tag, "' is a rule tag; its members follow its rule"));
  size_t removed = 0;
  for (PersonId p : persons) {
    d->manual_atoms.Remove(p);
    if (s.SetMember(*d, p, false, now, batch)) {
      ++removed;
      for (uint32_t dep : s.dependents[d->id]) s.dirty[dep] = State::kEvaluate;
      s.Reevaluate(p, now, batch, this);
    }
  }
  batch->Put(Column::kCatalog, IdKey(kManualPrefix, d->id), d->manual_atoms.Encode());
  return removed;
}

absl::Status Catalog::SetMembers(std::string_view tag, const tags::Bitmap& persons, TimeMs now,
                                 store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(false, tag);
  if (!d) return absl::NotFoundError(StrCat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(StrCat("tag '", tag, "' is a rule tag; its members follow its rule"));
  tags::Bitmap fresh = persons & s.table.live();
  fresh.Optimize();
  fresh.Densify();
  tags::Bitmap changed = fresh ^ d->members;
  const bool record = !d->members.Empty();
  d->manual_atoms = persons;
  d->manual_atoms.Optimize();
  s.AssignMembers(*d, std::move(fresh), now, record ? batch : nullptr);
  batch->Put(Column::kCatalog, IdKey(kManualPrefix, d->id), d->manual_atoms.Encode());
  if (!s.dependents[d->id].empty()) {
    changed.ForEach([&](PersonId p) {
      for (uint32_t dep : s.dependents[d->id]) s.dirty[dep] = State::kEvaluate;
      s.Reevaluate(p, now, batch, this);
      return true;
    });
  }
  return absl::OkStatus();
}

absl::Status Catalog::PutSegment(SegmentDef def, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  RETURN_IF_ERROR(ValidateName("segment", def.name));
  if (def.expression.empty()) return absl::InvalidArgumentError("segment needs an expression");
  State::Def* old = s.Find(true, def.name);
  auto d = std::make_unique<State::Def>();
  d->is_segment = true;
  d->id = old ? old->id : s.next_id;
  def.created_at = old ? old->segment.created_at : now;
  def.updated_at = now;
  d->segment = std::move(def);
  absl::Status st = s.CompileDef(*d);
  if (!st.ok()) return Annotate(st, StrCat("expression of segment '", d->segment.name, "'"));
  if (s.Reaches(d->expr->refs(), d->id)) {
    return absl::FailedPreconditionError(StrCat("segment '", d->segment.name, "' refers back to itself"));
  }
  s.Install(std::move(d), old, now, batch, this);
  return absl::OkStatus();
}

absl::Status Catalog::DeleteSegment(std::string_view name, store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(true, name);
  if (!d) return absl::NotFoundError(StrCat("segment '", name, "' does not exist"));
  return s.Remove(*d, batch);
}

absl::StatusOr<SegmentDef> Catalog::GetSegment(std::string_view name) const {
  State::Def* d = state_->Find(true, name);
  if (!d) return absl::NotFoundError(StrCat("segment '", name, "' does not exist"));
  return d->segment;
}

std::vector<SegmentDef> Catalog::ListSegments() const {
  std::vector<SegmentDef> out;
  for (const auto& [name, id] : state_->segments_by_name) out.push_back(state_->defs[id]->segment);
  return out;
}

absl::StatusOr<const tags::Bitmap*> Catalog::TagMembers(std::string_view name) const {
  State::Def* d = state_->Find(false, name);
  if (!d) return absl::NotFoundError(StrCat("tag '", name, "' does not exist"));
  return &d->members;
}

absl::StatusOr<const tags::Bitmap*> Catalog::SegmentMembers(std::string_view name) const {
  State::Def* d = state_->Find(true, name);
  if (!d) return absl::NotFoundError(StrCat("segment '", name, "' does not exist"));
  return &d->members;
}

absl::StatusOr<CompiledExpr> Catalog::CompileOneOff(std::string_view expression) const {
  const State& s = *state_;
  ASSIGN_OR_RETURN(Expr e, Parse(expression));
  EvalOptions options = s.options.eval;
  options.intern = false;
  return Compile(e, s.table, s.Lookup(), options);
}

absl::StatusOr<tags::Bitmap> Catalog::Evaluate(std::string_view expression, std::optional<TimeMs> as_of,
                                               TimeMs now) const {
  State& s = *state_;
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  if (as_of) {
    State::AsOfRefs refs(s);
    return c.Select(s.table.live(), *as_of, &refs);
  }
  return c.Select(s.table.live(), now, const_cast<Catalog*>(this));
}

absl::StatusOr<uint64_t> Catalog::Count(std::string_view expression, std::optional<TimeMs> as_of,
                                        TimeMs now) const {
  State& s = *state_;
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  if (as_of) {
    State::AsOfRefs refs(s);
    return c.Count(s.table.live(), *as_of, &refs);
  }
  return c.Count(s.table.live(), now, const_cast<Catalog*>(this));
}

void Catalog::MembershipOf(PersonId person, std::vector<std::string>* tags, std::vector<std::string>* segments) const {
  for (const auto& d : state_->defs) {
    if (d && state_->IsMember(*d, person)) (d->is_segment ? segments : tags)->push_back(d->name());
  }
  std::sort(tags->begin(), tags->end());
  std::sort(segments->begin(), segments->end());
}

absl::StatusOr<std::vector<MembershipChange>> Catalog::Changes(bool segment, std::string_view name, TimeMs since,
                                                               uint64_t after_seq, size_t limit) const {
  State::Def* d = state_->Find(segment, name);
  if (!d) return absl::NotFoundError(StrCat(segment ? "segment '" : "tag '", name, "' does not exist"));
  std::string prefix;
  store::PutFixed32BE(&prefix, d->id);
  std::string start = prefix;
  store::PutFixed64BE(&start, after_seq + 1);
  std::vector<MembershipChange> out;
  auto it = state_->kv.NewIterator(Column::kChanges);
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    std::string_view key = it->key(), value = it->value();
    if (!key.starts_with(prefix)) break;
    if (key.size() != 12 || value.size() != 13) return absl::DataLossError("membership change record is corrupt");
    MembershipChange c;
    c.seq = store::DecodeFixed64BE(key.substr(4));
    c.person = store::DecodeFixed32BE(value);
    c.entered = value[4] != 0;
    c.at = store::DecodeInt64Ordered(value.substr(5));
    if (c.at >= since) out.push_back(c);
  }
  RETURN_IF_ERROR(it->status());
  return out;
}

void Catalog::OnEvent(PersonId person, uint32_t event_name, std::span<const uint32_t> trait_keys,
                      bool location_changed, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  if (s.order.empty()) return;
  if (event_name != StringPool::kNone) {
    auto it = s.by_event.find(event_name);
    if (it != s.by_event.end()) s.MarkForEventsOrTime(it->second);
  }
  s.MarkForEventsOrTime(s.any_event);
  for (uint32_t k : trait_keys) {
    auto it = s.by_trait.find(k);
    if (it != s.by_trait.end()) s.MarkAll(it->second);
  }
  (void)location_changed;  // within() is in any_event
  s.Reevaluate(person, now, batch, this);
}

void Catalog::OnMerge(PersonId survivor, PersonId absorbed, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  for (auto& d : s.defs) {
    if (!d) continue;
    if (!d->expr && s.IsMember(*d, absorbed)) s.SetMember(*d, survivor, true, now, batch);
    s.SetMember(*d, absorbed, false, now, batch);
  }
  s.rows.SetWake(absorbed, internal::PersonRows::kNoWake);
  for (auto& [key, column] : s.aggregates) column->Set(absorbed, std::nullopt);
  s.MarkAll(s.order);
  s.Reevaluate(survivor, now, batch, this);
}

void Catalog::OnSplit(PersonId survivor, std::span<const PersonId> survivor_atoms, PersonId restored,
                      std::span<const PersonId> restored_atoms, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  for (auto& d : s.defs) {
    if (!d || d->expr) continue;
    auto labelled = [&](std::span<const PersonId> atoms) {
      for (PersonId a : atoms) {
        if (d->manual_atoms.Contains(a)) return true;
      }
      return false;
    };
    s.SetMember(*d, survivor, labelled(survivor_atoms), now, batch);
    s.SetMember(*d, restored, labelled(restored_atoms), now, batch);
  }
  for (PersonId p : {survivor, restored}) {
    s.MarkAll(s.order);
    s.Reevaluate(p, now, batch, this);
  }
}

size_t Catalog::Advance(TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  size_t n = 0;
  while (!s.heap.empty() && s.heap.top().first <= now) {
    auto [at, p] = s.heap.top();
    s.heap.pop();
    if (s.rows.Wake(p) != at) continue;  // superseded
    s.rows.SetWake(p, internal::PersonRows::kNoWake);
    s.MarkForEventsOrTime(s.time_dependent);
    s.Reevaluate(p, now, batch, this);
    ++n;
  }
  return n;
}

TimeMs Catalog::next_timer() const {
  const State& s = *state_;
  return s.heap.empty() ? CompiledExpr::kNever : s.heap.top().first;
}

void Catalog::Snapshot(store::WriteBatch* batch) const {
  for (const auto& d : state_->defs) {
    if (d && d->expr) batch->Put(Column::kCatalog, IdKey(kSnapshotPrefix, d->id), d->members.Encode());
  }
}

size_t Catalog::tag_count() const { return state_->tags_by_name.size(); }
size_t Catalog::segment_count() const { return state_->segments_by_name.size(); }
uint64_t Catalog::change_count() const { return state_->changes_recorded; }

size_t Catalog::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [key, column] : state_->aggregates) bytes += column->MemoryBytes();
  for (const auto& d : state_->defs) {
    if (d) bytes += d->members.MemoryBytes() + d->manual_atoms.MemoryBytes();
  }
  return bytes + state_->rows.MemoryBytes();
}

const tags::Bitmap* Catalog::LiveMembers(uint32_t ref) { return &state_->defs[ref]->members; }

const NumericIndex* Catalog::LiveAggregate(std::string_view key) {
  auto it = state_->aggregates.find(std::string(key));
  return it == state_->aggregates.end() ? nullptr : it->second.get();
}

tags::Bitmap Catalog::Members(uint32_t ref, TimeMs, const tags::Bitmap& candidates) {
  return state_->defs[ref]->members & candidates;
}

bool Catalog::Contains(uint32_t ref, PersonId person, TimeMs, TimeMs*) {
  return state_->IsMember(*state_->defs[ref], person);
}

}  // namespace facet::segments
