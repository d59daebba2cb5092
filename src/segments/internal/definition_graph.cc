#include "segments/internal/definition_graph.h"

#include <algorithm>
#include <utility>

#include "base/status.h"
#include "base/str_cat.h"
#include "segments/internal/catalog_record.h"
#include "segments/parser.h"

namespace facet::segments::internal {

Definition* DefinitionGraph::Find(bool segment, std::string_view name) const {
  const NameMap& m = segment ? segments_by_name_ : tags_by_name_;
  auto it = m.find(name);
  return it == m.end() ? nullptr : defs_[it->second].get();
}

RefLookup DefinitionGraph::Lookup() const {
  return [this](Expr::Kind kind, std::string_view name) -> absl::StatusOr<uint32_t> {
    bool segment = kind == Expr::Kind::kSegmentRef;
    Definition* d = Find(segment, name);
    if (!d) return absl::NotFoundError(Cat("unknown ", segment ? "segment" : "tag", " '", name, "'"));
    return d->id;
  };
}

absl::Status DefinitionGraph::Compile(Definition& d) const {
  const std::string& text = d.is_segment ? d.segment.expression : d.tag.rule;
  ASSIGN_OR_RETURN(Expr e, Parse(text));
  ASSIGN_OR_RETURN(CompiledExpr c, segments::Compile(e, table_, Lookup(), eval_));
  d.expr = std::move(c);
  return absl::OkStatus();
}

bool DefinitionGraph::Reaches(const std::vector<uint32_t>& refs, uint32_t target) const {
  std::vector<uint32_t> stack(refs.begin(), refs.end());
  std::vector<uint8_t> seen(defs_.size(), 0);
  while (!stack.empty()) {
    uint32_t id = stack.back();
    stack.pop_back();
    if (id == target) return true;
    if (seen[id]) continue;
    seen[id] = 1;
    if (defs_[id] && defs_[id]->expr) {
      stack.insert(stack.end(), defs_[id]->expr->refs().begin(), defs_[id]->expr->refs().end());
    }
  }
  return false;
}

int DefinitionGraph::Depth(const std::string& parent) const {
  int depth = 1;
  std::string p = parent;
  while (!p.empty() && depth <= 16) {
    Definition* d = Find(false, p);
    if (!d) break;
    p = d->tag.parent;
    ++depth;
  }
  return depth;
}

std::string DefinitionGraph::Encode(const Definition& d) { return EncodeCatalogRecord(d.is_segment, d.tag, d.segment); }

absl::StatusOr<std::unique_ptr<Definition>> DefinitionGraph::Decode(uint32_t id, std::string_view record) {
  auto d = std::make_unique<Definition>();
  d->id = id;
  if (!DecodeCatalogRecord(record, &d->is_segment, &d->tag, &d->segment)) {
    return absl::DataLossError(Cat("catalog record ", id, " is corrupt"));
  }
  return d;
}

Definition& DefinitionGraph::Install(std::unique_ptr<Definition> d, Definition* old, store::WriteBatch* batch) {
  ++generation_;
  if (old) {
    d->slot = old->slot;
    d->members = std::move(old->members);
    d->manual_atoms = std::move(old->manual_atoms);
  } else {
    ++next_id_;
    defs_.resize(next_id_);
    batch->Put(store::Column::kCatalog, kNextIdKey, store::Fixed64Key(next_id_));
  }
  batch->Put(store::Column::kCatalog, IdKey(kDefPrefix, d->id), Encode(*d));
  const uint32_t id = d->id;
  (d->is_segment ? segments_by_name_ : tags_by_name_)[d->name()] = id;
  defs_[id] = std::move(d);
  Reindex();
  return *defs_[id];
}

absl::StatusOr<std::unique_ptr<Definition>> DefinitionGraph::Remove(Definition& d, store::WriteBatch* batch) {
  ++generation_;
  if (!dependents_[d.id].empty()) {
    const Definition& o = *defs_[dependents_[d.id].front()];
    return absl::FailedPreconditionError(Cat(d.is_segment ? "segment '" : "tag '", d.name(), "' is referenced by ",
                                             o.is_segment ? "segment '" : "tag '", o.name(), "'"));
  }
  const uint32_t id = d.id;
  for (std::string_view prefix : {kDefPrefix, kManualPrefix, kSnapshotPrefix}) {
    batch->Delete(store::Column::kCatalog, IdKey(prefix, id));
  }
  NameMap& by_name = d.is_segment ? segments_by_name_ : tags_by_name_;
  by_name.erase(by_name.find(d.name()));
  std::unique_ptr<Definition> removed = std::move(defs_[id]);
  Reindex();
  return removed;
}

void DefinitionGraph::Reset(uint32_t next_id) {
  next_id_ = next_id;
  defs_.clear();
  defs_.resize(next_id_);
}

void DefinitionGraph::Restore(std::unique_ptr<Definition> d) {
  const uint32_t id = d->id;
  defs_[id] = std::move(d);
}

void DefinitionGraph::IndexNames() {
  for (const auto& d : defs_) {
    if (d) (d->is_segment ? segments_by_name_ : tags_by_name_)[d->name()] = d->id;
  }
}

void DefinitionGraph::Reindex() {
  order_.clear();
  by_event_.clear();
  by_trait_.clear();
  any_event_.clear();
  time_dependent_.clear();
  dependents_.assign(defs_.size(), {});
  event_marks_.assign(defs_.size(), kMarkEvaluate);
  std::vector<uint8_t> state(defs_.size(), 0);
  std::function<void(uint32_t)> visit = [&](uint32_t id) {
    if (state[id]) return;
    state[id] = 1;
    Definition& d = *defs_[id];
    for (uint32_t r : d.expr->refs()) {
      dependents_[r].push_back(id);
      if (defs_[r]->expr) visit(r);
    }
    order_.push_back(id);
  };
  for (const auto& d : defs_) {
    if (!d || !d->expr) continue;
    visit(d->id);
    for (uint32_t e : d->expr->event_names()) by_event_[e].push_back(d->id);
    for (uint32_t t : d->expr->trait_keys()) by_trait_[t].push_back(d->id);
    if (d->expr->any_event()) any_event_.push_back(d->id);
    if (d->expr->time_dependent()) time_dependent_.push_back(d->id);
    if (d->expr->events_only_through_aggregates()) event_marks_[d->id] = kMarkIfAggregatesChange;
  }
  for (auto& v : dependents_) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  compared_trait_columns_.clear();
  for (const auto& [key, ids] : by_trait_) {
    if (const NumericIndex* column = table_.NumericTrait(key)) compared_trait_columns_.push_back(column);
  }
}

}  // namespace facet::segments::internal
