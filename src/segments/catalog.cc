#include "segments/catalog.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "base/status.h"
#include "base/str_cat.h"
#include "segments/internal/catalog_state.h"
#include "segments/parser.h"
#include "store/key_codec.h"

namespace facet::segments {
namespace {

using internal::Definition;
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
    case TagKind::kRule:
      return "rule";
    case TagKind::kManual:
      return "manual";
    case TagKind::kModel:
      return "model";
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
  s.graph.Reset(static_cast<uint32_t>(next_id));
  s.membership.Reset();
  std::map<uint32_t, bitmap::Bitmap> snapshots;
  auto it = s.kv.NewIterator(Column::kCatalog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    auto id_of = [&](std::string_view prefix) -> absl::StatusOr<uint32_t> {
      if (key.size() != prefix.size() + 4) return absl::DataLossError("catalog key is corrupt");
      uint32_t id = store::DecodeFixed32BE(key.substr(prefix.size()));
      if (id >= s.graph.next_id()) return absl::DataLossError(Cat("catalog id ", id, " beyond the counter"));
      return id;
    };
    if (key.starts_with(kDefPrefix)) {
      ASSIGN_OR_RETURN(uint32_t id, id_of(kDefPrefix));
      ASSIGN_OR_RETURN(std::unique_ptr<Definition> d, internal::DefinitionGraph::Decode(id, it->value()));
      d->slot = s.membership.AcquireSlot();
      s.graph.Restore(std::move(d));
    } else if (key.starts_with(kManualPrefix) || key.starts_with(kSnapshotPrefix)) {
      bool manual = key.starts_with(kManualPrefix);
      ASSIGN_OR_RETURN(uint32_t id, id_of(manual ? kManualPrefix : kSnapshotPrefix));
      absl::StatusOr<bitmap::Bitmap> b = bitmap::Bitmap::Decode(it->value());
      if (!b.ok()) {
        return absl::DataLossError(Cat(manual ? "manual members" : "membership snapshot", " of catalog entry ", id,
                                       ": ", b.status().message()));
      }
      if (manual) {
        if (!s.graph.defs()[id]) return absl::DataLossError(Cat("manual members of unknown catalog entry ", id));
        s.graph.at(id).manual_atoms = std::move(*b);
      } else {
        snapshots[id] = std::move(*b);
      }
    }
  }
  RETURN_IF_ERROR(it->status());
  s.graph.IndexNames();
  // Compile after all names are known (references may point forward).
  for (const auto& d : s.graph.defs()) {
    if (!d) continue;
    if (d->is_segment || d->tag.kind == TagKind::kRule) {
      absl::Status st = s.graph.Compile(*d);
      if (!st.ok()) return absl::DataLossError(Cat("stored rule of '", d->name(), "': ", st.message()));
    }
  }
  // The change sequence goes on from the highest one stored.
  RETURN_IF_ERROR(s.membership.ResumeChangeSeq(s.kv, s.graph.next_id()));
  s.graph.Reindex();
  s.membership.OnReindex();
  // Manual members: the roots of the atoms labelled.
  for (const auto& d : s.graph.defs()) {
    if (!d || d->expr) continue;
    std::vector<PersonId> roots;
    d->manual_atoms.ForEach([&](PersonId a) {
      PersonId r = root_of(a);
      if (s.table.live().Contains(r)) roots.push_back(r);
      return true;
    });
    std::sort(roots.begin(), roots.end());
    s.membership.AssignMembers(*d, bitmap::Bitmap::Of(roots), now, nullptr);
  }
  // Where membership differs from what was last recorded (the snapshot and
  // the changes recorded after it, e.g. up to a crash) the difference is
  // recorded now: a window that closed while the server was down, a
  // changed definition. Nothing recorded is recorded twice.
  std::vector<NumericIndex*> current;  // aggregate columns computed at now
  auto changes = s.kv.NewIterator(Column::kChanges);
  for (uint32_t id : s.graph.order()) {
    Definition& d = s.graph.at(id);
    s.membership.Recompute(d, now, nullptr, this, &current);
    auto snap = snapshots.find(id);
    if (snap == snapshots.end() || !batch) continue;
    RETURN_IF_ERROR(s.membership.RecordSinceSnapshot(d, std::move(snap->second), snapshot_seq, *changes, now, batch));
  }
  return absl::OkStatus();
}

absl::Status Catalog::PutTag(TagDef def, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  RETURN_IF_ERROR(ValidateName("tag", def.name));
  if (def.display_name.empty()) def.display_name = def.name;
  if (!def.parent.empty()) {
    Definition* parent = s.graph.Find(false, def.parent);
    if (!parent) return absl::NotFoundError(Cat("parent tag '", def.parent, "' does not exist"));
    for (std::string p = def.parent; !p.empty();) {
      if (p == def.name) return absl::InvalidArgumentError(Cat("parent '", def.parent, "' would make a cycle"));
      Definition* pd = s.graph.Find(false, p);
      p = pd ? pd->tag.parent : "";
    }
    if (s.graph.Depth(def.parent) > static_cast<int>(s.options.max_depth)) {
      return absl::InvalidArgumentError(
          Cat("tag '", def.name, "' under '", def.parent, "' would be deeper than ", s.options.max_depth, " levels"));
    }
  }
  if (def.kind == TagKind::kRule && def.rule.empty()) {
    return absl::InvalidArgumentError(Cat("rule tag '", def.name, "' needs a rule"));
  }
  if (def.kind != TagKind::kRule && !def.rule.empty()) {
    return absl::InvalidArgumentError(Cat(TagKindName(def.kind), " tag '", def.name, "' cannot have a rule"));
  }
  Definition* old = s.graph.Find(false, def.name);
  if (old && old->tag.kind != def.kind && !old->manual_atoms.Empty()) {
    return absl::FailedPreconditionError(
        Cat("tag '", def.name, "' has ", TagKindName(old->tag.kind), " members; remove them to change its kind"));
  }
  auto d = std::make_unique<Definition>();
  d->id = old ? old->id : s.graph.next_id();
  def.created_at = old ? old->tag.created_at : now;
  def.updated_at = now;
  d->tag = std::move(def);
  if (d->tag.kind == TagKind::kRule) {
    absl::Status st = s.graph.Compile(*d);
    if (!st.ok()) return Annotate(st, Cat("rule of tag '", d->tag.name, "'"));
    if (s.graph.Reaches(d->expr->refs(), d->id)) {
      return absl::FailedPreconditionError(Cat("rule of tag '", d->tag.name, "' refers back to itself"));
    }
  }
  s.Install(std::move(d), old, now, batch, this);
  return absl::OkStatus();
}

absl::Status Catalog::DeleteTag(std::string_view name, store::WriteBatch* batch) {
  State& s = *state_;
  Definition* d = s.graph.Find(false, name);
  if (!d) return absl::NotFoundError(Cat("tag '", name, "' does not exist"));
  for (const auto& o : s.graph.defs()) {
    if (o && !o->is_segment && o->tag.parent == name) {
      return absl::FailedPreconditionError(Cat("tag '", name, "' has child tag '", o->tag.name, "'"));
    }
  }
  return s.Remove(*d, batch);
}

absl::StatusOr<TagDef> Catalog::GetTag(std::string_view name) const {
  Definition* d = state_->graph.Find(false, name);
  if (!d) return absl::NotFoundError(Cat("tag '", name, "' does not exist"));
  return d->tag;
}

std::vector<TagDef> Catalog::ListTags() const {
  const State& s = *state_;
  std::vector<TagDef> out;
  std::function<void(const std::string&)> add = [&](const std::string& parent) {
    for (const auto& [name, id] : s.graph.tags_by_name()) {
      if (s.graph.at(id).tag.parent == parent) {
        out.push_back(s.graph.at(id).tag);
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
  Definition* d = s.graph.Find(false, tag);
  if (!d) return absl::NotFoundError(Cat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(Cat("tag '", tag, "' is a rule tag; its members follow its rule"));
  size_t added = 0;
  for (PersonId p : persons) {
    d->manual_atoms.Add(p);
    if (s.table.live().Contains(p) && s.membership.SetMember(*d, p, true, now, batch)) {
      ++added;
      s.membership.MarkDependents(d->id);
      s.membership.Reevaluate(p, now, batch, this);
    }
  }
  d->manual_atoms.Optimize();
  batch->Put(Column::kCatalog, IdKey(kManualPrefix, d->id), d->manual_atoms.Encode());
  return added;
}

absl::StatusOr<size_t> Catalog::RemoveMembers(std::string_view tag, std::span<const PersonId> persons, TimeMs now,
                                              store::WriteBatch* batch) {
  State& s = *state_;
  Definition* d = s.graph.Find(false, tag);
  if (!d) return absl::NotFoundError(Cat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(Cat("tag '", tag, "' is a rule tag; its members follow its rule"));
  size_t removed = 0;
  for (PersonId p : persons) {
    d->manual_atoms.Remove(p);
    if (s.membership.SetMember(*d, p, false, now, batch)) {
      ++removed;
      s.membership.MarkDependents(d->id);
      s.membership.Reevaluate(p, now, batch, this);
    }
  }
  batch->Put(Column::kCatalog, IdKey(kManualPrefix, d->id), d->manual_atoms.Encode());
  return removed;
}

absl::Status Catalog::SetMembers(std::string_view tag, const bitmap::Bitmap& persons, TimeMs now,
                                 store::WriteBatch* batch) {
  State& s = *state_;
  Definition* d = s.graph.Find(false, tag);
  if (!d) return absl::NotFoundError(Cat("tag '", tag, "' does not exist"));
  if (d->expr) return absl::InvalidArgumentError(Cat("tag '", tag, "' is a rule tag; its members follow its rule"));
  bitmap::Bitmap fresh = persons & s.table.live();
  fresh.Optimize();
  fresh.Densify();
  bitmap::Bitmap changed = fresh ^ d->members;
  const bool record = !d->members.Empty();
  d->manual_atoms = persons;
  d->manual_atoms.Optimize();
  s.membership.AssignMembers(*d, std::move(fresh), now, record ? batch : nullptr);
  batch->Put(Column::kCatalog, IdKey(kManualPrefix, d->id), d->manual_atoms.Encode());
  if (!s.graph.dependents()[d->id].empty()) {
    changed.ForEach([&](PersonId p) {
      s.membership.MarkDependents(d->id);
      s.membership.Reevaluate(p, now, batch, this);
      return true;
    });
  }
  return absl::OkStatus();
}

absl::Status Catalog::PutSegment(SegmentDef def, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  RETURN_IF_ERROR(ValidateName("segment", def.name));
  if (def.expression.empty()) return absl::InvalidArgumentError("segment needs an expression");
  Definition* old = s.graph.Find(true, def.name);
  auto d = std::make_unique<Definition>();
  d->is_segment = true;
  d->id = old ? old->id : s.graph.next_id();
  def.created_at = old ? old->segment.created_at : now;
  def.updated_at = now;
  d->segment = std::move(def);
  absl::Status st = s.graph.Compile(*d);
  if (!st.ok()) return Annotate(st, Cat("expression of segment '", d->segment.name, "'"));
  if (s.graph.Reaches(d->expr->refs(), d->id)) {
    return absl::FailedPreconditionError(Cat("segment '", d->segment.name, "' refers back to itself"));
  }
  s.Install(std::move(d), old, now, batch, this);
  return absl::OkStatus();
}

absl::Status Catalog::DeleteSegment(std::string_view name, store::WriteBatch* batch) {
  State& s = *state_;
  Definition* d = s.graph.Find(true, name);
  if (!d) return absl::NotFoundError(Cat("segment '", name, "' does not exist"));
  return s.Remove(*d, batch);
}

absl::StatusOr<SegmentDef> Catalog::GetSegment(std::string_view name) const {
  Definition* d = state_->graph.Find(true, name);
  if (!d) return absl::NotFoundError(Cat("segment '", name, "' does not exist"));
  return d->segment;
}

std::vector<SegmentDef> Catalog::ListSegments() const {
  std::vector<SegmentDef> out;
  for (const auto& [name, id] : state_->graph.segments_by_name()) out.push_back(state_->graph.at(id).segment);
  return out;
}

absl::StatusOr<const bitmap::Bitmap*> Catalog::TagMembers(std::string_view name) const {
  Definition* d = state_->graph.Find(false, name);
  if (!d) return absl::NotFoundError(Cat("tag '", name, "' does not exist"));
  return &d->members;
}

absl::StatusOr<const bitmap::Bitmap*> Catalog::SegmentMembers(std::string_view name) const {
  Definition* d = state_->graph.Find(true, name);
  if (!d) return absl::NotFoundError(Cat("segment '", name, "' does not exist"));
  return &d->members;
}

void Catalog::MembershipOf(PersonId person, std::vector<std::string>* tags, std::vector<std::string>* segments) const {
  for (const auto& d : state_->graph.defs()) {
    if (d && state_->membership.IsMember(*d, person)) (d->is_segment ? segments : tags)->push_back(d->name());
  }
  std::sort(tags->begin(), tags->end());
  std::sort(segments->begin(), segments->end());
}

absl::StatusOr<std::vector<MembershipChange>> Catalog::Changes(bool segment, std::string_view name, TimeMs since,
                                                               uint64_t after_seq, size_t limit) const {
  Definition* d = state_->graph.Find(segment, name);
  if (!d) return absl::NotFoundError(Cat(segment ? "segment '" : "tag '", name, "' does not exist"));
  return internal::Membership::ReadChanges(state_->kv, *d, since, after_seq, limit);
}

void Catalog::OnEvent(PersonId person, uint32_t event_name, std::span<const uint32_t> trait_keys, bool location_changed,
                      TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  if (s.graph.order().empty()) return;
  if (event_name != StringPool::kNone) {
    if (const std::vector<uint32_t>* ids = s.graph.ByEvent(event_name)) s.membership.MarkForEventsOrTime(*ids);
  }
  s.membership.MarkForEventsOrTime(s.graph.any_event());
  for (uint32_t k : trait_keys) {
    if (const std::vector<uint32_t>* ids = s.graph.ByTrait(k)) s.membership.MarkAll(*ids);
  }
  (void)location_changed;  // within() is in any_event
  s.membership.Reevaluate(person, now, batch, this);
}

void Catalog::OnMerge(PersonId survivor, PersonId absorbed, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  for (const auto& d : s.graph.defs()) {
    if (!d) continue;
    if (!d->expr && s.membership.IsMember(*d, absorbed)) s.membership.SetMember(*d, survivor, true, now, batch);
    s.membership.SetMember(*d, absorbed, false, now, batch);
  }
  s.membership.CancelTimer(absorbed);
  s.aggregates.Forget(absorbed);
  s.membership.MarkAll(s.graph.order());
  s.membership.Reevaluate(survivor, now, batch, this);
}

void Catalog::OnSplit(PersonId survivor, std::span<const PersonId> survivor_atoms, PersonId restored,
                      std::span<const PersonId> restored_atoms, TimeMs now, store::WriteBatch* batch) {
  State& s = *state_;
  for (const auto& d : s.graph.defs()) {
    if (!d || d->expr) continue;
    auto labelled = [&](std::span<const PersonId> atoms) {
      for (PersonId a : atoms) {
        if (d->manual_atoms.Contains(a)) return true;
      }
      return false;
    };
    s.membership.SetMember(*d, survivor, labelled(survivor_atoms), now, batch);
    s.membership.SetMember(*d, restored, labelled(restored_atoms), now, batch);
  }
  for (PersonId p : {survivor, restored}) {
    s.membership.MarkAll(s.graph.order());
    s.membership.Reevaluate(p, now, batch, this);
  }
}

size_t Catalog::Advance(TimeMs now, store::WriteBatch* batch) { return state_->membership.RunTimers(now, batch, this); }

TimeMs Catalog::next_timer() const { return state_->membership.next_timer(); }

void Catalog::Snapshot(store::WriteBatch* batch) const {
  for (const auto& d : state_->graph.defs()) {
    if (d && d->expr) batch->Put(Column::kCatalog, IdKey(kSnapshotPrefix, d->id), d->members.Encode());
  }
  batch->Put(Column::kCatalog, kSnapshotSeqKey, store::Fixed64Key(state_->membership.change_seq()));
}

size_t Catalog::tag_count() const { return state_->graph.tags_by_name().size(); }
size_t Catalog::segment_count() const { return state_->graph.segments_by_name().size(); }
uint64_t Catalog::change_count() const { return state_->membership.changes_recorded(); }

size_t Catalog::MemoryBytes() const {
  size_t bytes = state_->aggregates.MemoryBytes();
  for (const auto& d : state_->graph.defs()) {
    if (d) bytes += d->members.MemoryBytes() + d->manual_atoms.MemoryBytes();
  }
  return bytes + state_->membership.MemoryBytes();
}

const bitmap::Bitmap* Catalog::LiveMembers(uint32_t ref) { return &state_->graph.at(ref).members; }

const NumericIndex* Catalog::LiveAggregate(std::string_view key) { return state_->aggregates.Find(key); }

bitmap::Bitmap Catalog::Members(uint32_t ref, TimeMs, const bitmap::Bitmap& candidates) {
  return state_->graph.at(ref).members & candidates;
}

bool Catalog::Contains(uint32_t ref, PersonId person, TimeMs, TimeMs*) {
  return state_->membership.IsMember(state_->graph.at(ref), person);
}

}  // namespace facet::segments
