#include "segments/internal/membership.h"

#include <algorithm>
#include <utility>

#include "base/status.h"
#include "store/key_codec.h"

namespace facet::segments::internal {
namespace {

// The aggregates Reevaluate computes search and scan the person's events
// and read their properties: start loading (the first few KB of) both at
// once.
void PrefetchEvents(const PersonTable::Person& row) {
  constexpr size_t kMaxLines = 64;
  auto lines = [](const auto& v) {
    const char* begin = reinterpret_cast<const char*>(v.data());
    const char* end = begin + std::min(v.size() * sizeof(v[0]), kMaxLines * 64);
    for (const char* at = begin; at < end; at += 64) __builtin_prefetch(at);
  };
  lines(row.events);
  lines(row.cells);
}

}  // namespace

void Membership::Reset() {
  rows_ = PersonRows();
  free_slots_.clear();
  slots_used_ = 0;
}

uint32_t Membership::AcquireSlot() {
  if (!free_slots_.empty()) {
    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  rows_.ReserveSlots(slots_used_ + 1);
  return slots_used_++;
}

void Membership::ReleaseSlot(Definition& d) {
  d.members.ForEach([&](PersonId p) {
    rows_.SetMember(p, d.slot, false);
    return true;
  });
  free_slots_.push_back(d.slot);
}

bool Membership::SetMember(Definition& d, PersonId p, bool in, TimeMs now, store::WriteBatch* batch) {
  if (!rows_.SetMember(p, d.slot, in)) return false;
  if (in) {
    d.members.Add(p);
  } else {
    d.members.Remove(p);
  }
  if (batch) RecordChange(d, p, in, now, batch);
  return true;
}

void Membership::AssignMembers(Definition& d, bitmap::Bitmap fresh, TimeMs now, store::WriteBatch* batch) {
  (fresh - d.members).ForEach([&](PersonId p) {
    rows_.SetMember(p, d.slot, true);
    if (batch) RecordChange(d, p, true, now, batch);
    return true;
  });
  (d.members - fresh).ForEach([&](PersonId p) {
    rows_.SetMember(p, d.slot, false);
    if (batch) RecordChange(d, p, false, now, batch);
    return true;
  });
  d.members = std::move(fresh);
}

void Membership::RecordChange(const Definition& d, PersonId p, bool entered, TimeMs now, store::WriteBatch* batch) {
  ++change_seq_;
  ++changes_recorded_;
  change_key_.clear();
  store::PutFixed32BE(&change_key_, d.id);
  store::PutFixed64BE(&change_key_, change_seq_);
  change_value_.clear();
  store::PutFixed32BE(&change_value_, p);
  change_value_.push_back(entered ? 1 : 0);
  store::PutInt64Ordered(&change_value_, now);
  batch->Put(store::Column::kChanges, change_key_, change_value_);
}

void Membership::Schedule(PersonId p, TimeMs at) {
  if (at == CompiledExpr::kNever || rows_.Wake(p) <= at) return;
  rows_.SetWake(p, at);
  heap_.emplace(at, p);
}

void Membership::Reevaluate(PersonId p, TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
  const DefinitionGraph::Definitions& defs = graph_.defs();
  const std::vector<uint32_t>& order = graph_.order();
  const std::vector<std::vector<uint32_t>>& dependents = graph_.dependents();
  TimeMs next = CompiledExpr::kNever;
  // The person's value in each column is read (and most are written)
  // below: one cache miss each, taken together here.
  aggregates_.Prefetch(p);
  for (const NumericIndex* column : graph_.compared_trait_columns()) column->Prefetch(p);
  rows_.Prefetch(p);
  aggregates_.ClearColumnMarks();
  if (known_.AddChecked(p)) MarkAll(order);
  const PersonTable::Person* row = table_.Get(p);  // null: not live
  if (row) PrefetchEvents(*row);
  for (uint32_t id : order) {
    const uint8_t why = dirty_[id];
    if (!why) continue;
    dirty_[id] = 0;
    Definition& d = *defs[id];
    const bool aggregates_changed = aggregates_.Update(d, p, row, now, &next);
    // Only its aggregates could have moved it, and they did not.
    if (why == kMarkIfAggregatesChange && !aggregates_changed) continue;
    bool in = row && d.expr->MatchesLive(*row, p, now, refs, &next);
    if (SetMember(d, p, in, now, batch)) {
      for (uint32_t dep : dependents[id]) dirty_[dep] = kMarkEvaluate;
    }
  }
  Schedule(p, next);
}

// A definition reading events and time only through aggregates is selected
// by the bitmap plan once its aggregate columns are current (and its timers
// set from them); others person by person.
void Membership::Recompute(Definition& d, TimeMs now, store::WriteBatch* batch, RefResolver* refs,
                           std::vector<NumericIndex*>* current) {
  const bool timed = d.expr->time_dependent();
  const bool by_plan = d.expr->events_only_through_aggregates();
  aggregates_.BindColumns(d);
  std::vector<size_t> stale;  // d's aggregates to compute
  for (size_t i = 0; i < d.columns.size(); ++i) {
    if (!current || std::find(current->begin(), current->end(), d.columns[i]) == current->end()) {
      stale.push_back(i);
    }
  }
  std::vector<PersonId> in;
  if (!by_plan || !stale.empty()) {
    TimeMs dummy;
    table_.live().ForEach([&](PersonId p) {
      TimeMs next = CompiledExpr::kNever;
      const PersonTable::Person* row = table_.Get(p);
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
  known_ |= table_.live();
  bitmap::Bitmap fresh = by_plan ? d.expr->Select(table_.live(), now, refs) : bitmap::Bitmap::Of(in);
  fresh.Optimize();
  fresh.Densify();
  AssignMembers(d, std::move(fresh), now, batch);
  for (NumericIndex* c : d.columns) c->Compact();
}

void Membership::RecomputeDependents(uint32_t id, TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
  const DefinitionGraph::Definitions& defs = graph_.defs();
  std::vector<uint8_t> affected(defs.size(), 0);
  affected[id] = 1;
  for (uint32_t o : graph_.order()) {
    if (o == id) continue;
    for (uint32_t r : defs[o]->expr->refs()) {
      if (affected[r]) affected[o] = 1;
    }
    if (affected[o]) Recompute(*defs[o], now, batch, refs);
  }
}

size_t Membership::RunTimers(TimeMs now, store::WriteBatch* batch, RefResolver* refs) {
  size_t n = 0;
  while (!heap_.empty() && heap_.top().first <= now) {
    auto [at, p] = heap_.top();
    heap_.pop();
    if (rows_.Wake(p) != at) continue;  // superseded
    rows_.SetWake(p, PersonRows::kNoWake);
    MarkForEventsOrTime(graph_.time_dependent());
    Reevaluate(p, now, batch, refs);
    ++n;
  }
  return n;
}

absl::Status Membership::ResumeChangeSeq(const store::KvStore& kv, uint32_t id_count) {
  auto changes = kv.NewIterator(store::Column::kChanges);
  for (uint32_t id = 0; id < id_count; ++id) {
    std::string last;
    store::PutFixed32BE(&last, id);
    store::PutFixed64BE(&last, UINT64_MAX);
    changes->SeekForPrev(last);
    if (changes->Valid() && changes->key().size() == 12 && store::DecodeFixed32BE(changes->key()) == id) {
      change_seq_ = std::max(change_seq_, store::DecodeFixed64BE(changes->key().substr(4)));
    }
  }
  return changes->status();
}

absl::Status Membership::RecordSinceSnapshot(const Definition& d, bitmap::Bitmap recorded, uint64_t snapshot_seq,
                                             store::Iterator& changes, TimeMs now, store::WriteBatch* batch) {
  std::string prefix, start;
  store::PutFixed32BE(&prefix, d.id);
  start = prefix;
  store::PutFixed64BE(&start, snapshot_seq + 1);
  for (changes.Seek(start); changes.Valid() && changes.key().starts_with(prefix); changes.Next()) {
    std::string_view value = changes.value();
    if (changes.key().size() != 12 || value.size() != 13) {
      return absl::DataLossError("membership change record is corrupt");
    }
    const PersonId p = store::DecodeFixed32BE(value);
    if (value[4] != 0) {
      recorded.Add(p);
    } else {
      recorded.Remove(p);
    }
  }
  RETURN_IF_ERROR(changes.status());
  (d.members - recorded).ForEach([&](PersonId p) {
    RecordChange(d, p, true, now, batch);
    return true;
  });
  (recorded - d.members).ForEach([&](PersonId p) {
    RecordChange(d, p, false, now, batch);
    return true;
  });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MembershipChange>> Membership::ReadChanges(const store::KvStore& kv, const Definition& d,
                                                                      TimeMs since, uint64_t after_seq, size_t limit) {
  std::string prefix;
  store::PutFixed32BE(&prefix, d.id);
  std::string start = prefix;
  store::PutFixed64BE(&start, after_seq + 1);
  std::vector<MembershipChange> out;
  auto it = kv.NewIterator(store::Column::kChanges);
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

}  // namespace facet::segments::internal
