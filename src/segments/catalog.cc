#include "segments/catalog.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "base/status.h"
#include "segments/internal/catalog_state.h"
#include "segments/parser.h"
#include "store/key_codec.h"

namespace facet::segments {
namespace {

using internal::IdKey;
using internal::kDefPrefix;
using internal::kManualPrefix;
using internal::kNextIdKey;
using internal::kSnapshotPrefix;
using internal::kSnapshotSeqKey;
using store::Column;

absl::Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(Cat(what, " name must be 1 to 128 bytes long"));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '"' || c == '\'' || c == '\\') {
      return absl::InvalidArgumentError(
          Cat(what, " name '", name, "' may not contain '/', quotes, backslashes or control characters"));
    }
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return absl::InvalidArgumentError(Cat(what, " name '", name, "' may not start or end with a space"));
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

Catalog::Catalog(store::KvStore& kv, PersonTable& table, CatalogOptions options)
    : state_(std::make_unique<State>(kv, table, options)) {}

Catalog::~Catalog() = default;

absl::Status Catalog::Load(TimeMs now, const std::function<PersonId(PersonId)>& root_of, store::WriteBatch* batch) {
  State& s = *state_;
  auto get_counter = [&](std::string_view key, uint64_t* out) -> absl::Status {
    absl::StatusOr<std::string> v = s.kv.Get(Column::kCatalog, key);
    if (absl::IsNotFound(v.status())) return absl::OkStatus();
    RETURN_IF_ERROR(v.status());
    if (v->size() != 8) return absl::DataLossError(Cat("catalog counter ", key, " is corrupt"));
    *out = store::DecodeFixed64BE(*v);
    return absl::OkStatus();
  };
  uint64_t next_id = 0, snapshot_seq = 0;
  RETURN_IF_ERROR(get_counter(kNextIdKey, &next_id));
  RETURN_IF_ERROR(get_counter(kSnapshotSeqKey, &snapshot_seq));
  s.next_id = static_cast<uint32_t>(next_id);
  s.defs.clear();
  s.defs.resize(s.next_id);
  s.rows = internal::PersonRows();
  s.free_slots.clear();
  s.slots_used = 0;
  std::map<uint32_t, bitmap::Bitmap> snapshots;
  auto it = s.kv.NewIterator(Column::kCatalog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    auto id_of = [&](std::string_view prefix) -> absl::StatusOr<uint32_t> {
      if (key.size() != prefix.size() + 4) return absl::DataLossError("catalog key is corrupt");
      uint32_t id = store::DecodeFixed32BE(key.substr(prefix.size()));
      if (id >= s.next_id) return absl::DataLossError(Cat("catalog id ", id, " beyond the counter"));
      return id;
    };
    if (key.starts_with(kDefPrefix)) {
      ASSIGN_OR_RETURN(uint32_t id, id_of(kDefPrefix));
      ASSIGN_OR_RETURN(s.defs[id], State::DecodeDef(id, it->value()));
      s.defs[id]->slot = s.AcquireSlot();
    } else if (key.starts_with(kManualPrefix) || key.starts_with(kSnapshotPrefix)) {
      bool manual = key.starts_with(kManualPrefix);
      ASSIGN_OR_RETURN(uint32_t id, id_of(manual ? kManualPrefix : kSnapshotPrefix));
      absl::StatusOr<bitmap::Bitmap> b = bitmap::Bitmap::Decode(it->value());
      if (!b.ok()) {
        return absl::DataLossError(
            Cat(manual ? "manual members" : "membership snapshot", " of catalog entry ", id, ": ",
                         b.status().message()));
      }
      if (manual) {
        if (!s.defs[id]) return absl::DataLossError(Cat("manual members of unknown catalog entry ", id));
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
      if (!st.ok()) return absl::DataLossError(Cat("stored rule of '", d->name(), "': ", st.message()));
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
    s.AssignMembers(*d, bitmap::Bitmap::Of(roots), now, nullptr);
  }
  // Where membership differs from what was last recorded (the snapshot and
  // the changes recorded after it, e.g. up to a crash) the difference is
  // recorded now: a window that closed while the server was down, a
  // changed definition. Nothing recorded is recorded twice.
  std::vector<NumericIndex*> current;  // aggregate columns computed at now
  auto changes = s.kv.NewIterator(Column::kChanges);
  for (uint32_t id : s.order) {
    State::Def& d = *s.defs[id];
    s.Recompute(d, now, nullptr, this, &current);
    auto snap = snapshots.find(id);
    if (snap == snapshots.end() || !batch) continue;
    bitmap::Bitmap& recorded = snap->second;
    std::string prefix, start;
    store::PutFixed32BE(&prefix, id);
    start = prefix;
    store::PutFixed64BE(&start, snapshot_seq + 1);
    for (changes->Seek(start); changes->Valid() && changes->key().starts_with(prefix); changes->Next()) {
      std::string_view value = changes->value();
      if (changes->key().size() != 12 || value.size() != 13) {
        return absl::DataLossError("membership change record is corrupt");
      }
      const PersonId p = store::DecodeFixed32BE(value);
      if (value[4] != 0) {
        recorded.Add(p);
      } else {
        recorded.Remove(p);
      }
    }
    RETURN_IF_ERROR(changes->status());
    (d.members - recorded).ForEach([&](PersonId p) { s.RecordChange(d, p, true, now, batch); return true; });
    (recorded - d.members).ForEach([&](PersonId p) { s.RecordChange(d, p, false, now, batch); return true; });
  }
  return absl::OkStatus();
}

absl::Status Catalog::PutTag(TagDef def, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  RETURN_IF_ERROR(ValidateName("tag", def.name));
  if (def.display_name.empty()) def.display_name = def.name;
  if (!def.parent.empty()) {
    State::Def* parent = s.Find(false, def.parent);
    if (!parent) return absl::NotFoundError(Cat("parent tag '", def.parent, "' does not exist"));
    for (std::string p = def.parent; !p.empty();) {
      if (p == def.name) return absl::InvalidArgumentError(Cat("parent '", def.parent, "' would make a cycle"));
      State::Def* pd = s.Find(false, p);
      p = pd ? pd->tag.parent : "";
    }
    if (s.Depth(def.parent) > static_cast<int>(s.options.max_depth)) {
      return absl::InvalidArgumentError(Cat("tag '", def.name, "' under '", def.parent,
                                                     "' would be deeper than ", s.options.max_depth, " levels"));
    }
  }
  if (def.kind == TagKind::kRule && def.rule.empty()) {
    return absl::InvalidArgumentError(Cat("rule tag '", def.name, "' needs a rule"));
  }
  if (def.kind != TagKind::kRule && !def.rule.empty()) {
    return absl::InvalidArgumentError(Cat(TagKindName(def.kind), " tag '", def.name, "' cannot have a rule"));
  }
  State::Def* old = s.Find(false, def.name);
  if (old && old->tag.kind != def.kind && !old->manual_atoms.Empty()) {
    return absl::FailedPreconditionError(
        Cat("tag '", def.name, "' has ", TagKindName(old->tag.kind), " members; remove them to change its kind"));
  }
  auto d = std::make_unique<State::Def>();
  d->id = old ? old->id : s.next_id;
  def.created_at = old ? old->tag.created_at : now;
  def.updated_at = now;
  d->tag = std::move(def);
  if (d->tag.kind == TagKind::kRule) {
    absl::Status st = s.CompileDef(*d);
    if (!st.ok()) return Annotate(st, Cat("rule of tag '", d->tag.name, "'"));
    if (s.Reaches(d->expr->refs(), d->id)) {
      return absl::FailedPreconditionError(Cat("rule of tag '", d->tag.name, "' refers back to itself"));
    }
  }
  s.Install(std::move(d), old, now, batch, this);
  return absl::OkStatus();
}

absl::Status Catalog::DeleteTag(std::string_view name, store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(false, name);
  if (!d) return absl::NotFoundError(Cat("tag '", name, "' does not exist"));
  for (const auto& o : s.defs) {
    if (o && !o->is_segment && o->tag.parent == name) {
      return absl::FailedPreconditionError(Cat("tag '", name, "' has child tag '", o->tag.name, "'"));
    }
  }
  return s.Remove(*d, batch);
}

absl::StatusOr<TagDef> Catalog::GetTag(std::string_view name) const {
  State::Def* d = state_->Find(false, name);
  if (!d) return absl::NotFoundError(Cat("tag '", name, "' does not exist"));
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
  if (!d) return absl::NotFoundError(Cat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(Cat("tag '", tag, "' is a rule tag; its members follow its rule"));
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
  if (!d) return absl::NotFoundError(Cat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(Cat("tag '", tag, "' is a rule tag; its members follow its rule"));
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

absl::Status Catalog::SetMembers(std::string_view tag, const bitmap::Bitmap& persons, TimeMs now,
                                 store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(false, tag);
  if (!d) return absl::NotFoundError(Cat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(Cat("tag '", tag, "' is a rule tag; its members follow its rule"));
  bitmap::Bitmap fresh = persons & s.table.live();
  fresh.Optimize();
  fresh.Densify();
  bitmap::Bitmap changed = fresh ^ d->members;
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
  if (!st.ok()) return Annotate(st, Cat("expression of segment '", d->segment.name, "'"));
  if (s.Reaches(d->expr->refs(), d->id)) {
    return absl::FailedPreconditionError(Cat("segment '", d->segment.name, "' refers back to itself"));
  }
  s.Install(std::move(d), old, now, batch, this);
  return absl::OkStatus();
}

absl::Status Catalog::DeleteSegment(std::string_view name, store::WriteBatch* batch) {
  State& s = *state_;
  State::Def* d = s.Find(true, name);
  if (!d) return absl::NotFoundError(Cat("segment '", name, "' does not exist"));
  return s.Remove(*d, batch);
}

absl::StatusOr<SegmentDef> Catalog::GetSegment(std::string_view name) const {
  State::Def* d = state_->Find(true, name);
  if (!d) return absl::NotFoundError(Cat("segment '", name, "' does not exist"));
  return d->segment;
}

std::vector<SegmentDef> Catalog::ListSegments() const {
  std::vector<SegmentDef> out;
  for (const auto& [name, id] : state_->segments_by_name) out.push_back(state_->defs[id]->segment);
  return out;
}

absl::StatusOr<const bitmap::Bitmap*> Catalog::TagMembers(std::string_view name) const {
  State::Def* d = state_->Find(false, name);
  if (!d) return absl::NotFoundError(Cat("tag '", name, "' does not exist"));
  return &d->members;
}

absl::StatusOr<const bitmap::Bitmap*> Catalog::SegmentMembers(std::string_view name) const {
  State::Def* d = state_->Find(true, name);
  if (!d) return absl::NotFoundError(Cat("segment '", name, "' does not exist"));
  return &d->members;
}

absl::StatusOr<CompiledExpr> Catalog::CompileOneOff(std::string_view expression) const {
  const State& s = *state_;
  ASSIGN_OR_RETURN(Expr e, Parse(expression));
  EvalOptions options = s.options.eval;
  options.intern = false;
  return Compile(e, s.table, s.Lookup(), options);
}

absl::StatusOr<bitmap::Bitmap> Catalog::Evaluate(std::string_view expression, std::optional<TimeMs> as_of,
                                               TimeMs now) const {
  State& s = *state_;
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  if (as_of) {
    State::AsOfRefs refs(s);
    return c.Select(s.table.live(), *as_of, &refs);
  }
  return c.Select(s.table.live(), now, const_cast<Catalog*>(this));
}

absl::StatusOr<bitmap::Bitmap> Catalog::Evaluate(std::string_view expression, std::optional<TimeMs> as_of, TimeMs now,
                                               const EvalSlicing& slicing) const {
  using Clock = std::chrono::steady_clock;
  State& s = *state_;
  const auto started = Clock::now();
  const auto budget = std::chrono::milliseconds(s.options.eval_budget_ms);
  const auto slice_target = std::chrono::milliseconds(std::max<TimeMs>(slicing.slice_ms, 1));
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  uint64_t generation = s.generation;
  bitmap::Bitmap result;
  // Slices start small (a costly expression must not hold the lock long
  // before its cost is known) and grow or shrink toward the target time.
  uint64_t slice = 256;
  uint64_t next = 0;
  while (true) {
    const bitmap::Bitmap& live = s.table.live();
    if (live.Empty() || next > live.Maximum()) break;
    const uint64_t hi = std::min<uint64_t>(next + slice, uint64_t{live.Maximum()} + 1);
    bitmap::Bitmap candidates = live & bitmap::Bitmap::Range(static_cast<PersonId>(next), static_cast<PersonId>(hi));
    const auto slice_started = Clock::now();
    if (as_of) {
      State::AsOfRefs refs(s);
      result |= c.Select(candidates, *as_of, &refs);
    } else {
      result |= c.Select(candidates, now, const_cast<Catalog*>(this));
    }
    next = hi;
    const auto took = Clock::now() - slice_started;
    if (Clock::now() - started > budget) {
      return absl::InvalidArgumentError(
          Cat("the expression did not finish within its budget of ", s.options.eval_budget_ms,
              " ms (evaluated ", next, " of ", uint64_t{live.Maximum()} + 1,
              " person ids); narrow it: fewer terms, shorter windows, or save it as a segment, which is kept "
              "up to date as events arrive"));
    }
    if (took < slice_target / 4) {
      slice *= 4;
    } else if (took > slice_target && slice > 16) {
      slice /= 2;
    }
    if (slicing.yield && next <= live.Maximum()) {
      slicing.yield();
      if (s.generation != generation) {
        ASSIGN_OR_RETURN(c, CompileOneOff(expression));
        generation = s.generation;
      }
    }
  }
  // Persons merged away while slices were evaluated are no longer live.
  result &= s.table.live();
  return result;
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
  if (!d) return absl::NotFoundError(Cat(segment ? "segment '" : "tag '", name, "' does not exist"));
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
  batch->Put(Column::kCatalog, kSnapshotSeqKey, store::Fixed64Key(state_->change_seq));
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

const bitmap::Bitmap* Catalog::LiveMembers(uint32_t ref) { return &state_->defs[ref]->members; }

const NumericIndex* Catalog::LiveAggregate(std::string_view key) {
  auto it = state_->aggregates.find(std::string(key));
  return it == state_->aggregates.end() ? nullptr : it->second.get();
}

bitmap::Bitmap Catalog::Members(uint32_t ref, TimeMs, const bitmap::Bitmap& candidates) {
  return state_->defs[ref]->members & candidates;
}

bool Catalog::Contains(uint32_t ref, PersonId person, TimeMs, TimeMs*) {
  return state_->IsMember(*state_->defs[ref], person);
}

}  // namespace facet::segments
