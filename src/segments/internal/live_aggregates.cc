#include "segments/internal/live_aggregates.h"

#include <utility>

namespace facet::segments::internal {

NumericIndex& LiveAggregates::Column(const std::string& key) {
  auto& c = columns_[key];
  if (!c) c = std::make_unique<NumericIndex>();
  return *c;
}

const NumericIndex* LiveAggregates::Find(std::string_view key) const {
  auto it = columns_.find(std::string(key));
  return it == columns_.end() ? nullptr : it->second.get();
}

void LiveAggregates::Bind(Definition& d) {
  d.columns.clear();
  d.column_marks.clear();
  for (size_t i = 0; i < d.expr->aggregate_count(); ++i) {
    NumericIndex* c = &Column(d.expr->aggregate_key(i));
    auto [it, added] = marks_.try_emplace(c, static_cast<uint32_t>(marks_.size()));
    if (added) column_state_.push_back(0);
    d.columns.push_back(c);
    d.column_marks.push_back(it->second);
  }
  d.expr->BindLive(d.columns);
  d.columns_bound = true;
}

void LiveAggregates::Forget(PersonId p) {
  for (auto& [key, column] : columns_) column->Set(p, std::nullopt);
}

void LiveAggregates::Prune(const std::vector<std::unique_ptr<Definition>>& defs) {
  absl::flat_hash_map<std::string, bool> used;
  for (const auto& d : defs) {
    if (!d || !d->expr) continue;
    for (size_t i = 0; i < d->expr->aggregate_count(); ++i) used[d->expr->aggregate_key(i)] = true;
  }
  for (auto it = columns_.begin(); it != columns_.end();) {
    if (!used.contains(it->first)) {
      columns_.erase(it++);
    } else {
      ++it;
    }
  }
}

size_t LiveAggregates::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [key, column] : columns_) bytes += column->MemoryBytes();
  return bytes;
}

}  // namespace facet::segments::internal
