// DefinitionGraph: the catalog's tag and segment definitions, by id and by
// name, compiled, and the indexes over them that live maintenance reads:
// the evaluation order (every definition after those it references), the
// definitions each event name or trait reaches, and who refers to whom.
// It writes the definition records (and the id counter) to the catalog
// column; members are kept by Membership.
//
//   DefinitionGraph graph(table, options.eval);
//   RETURN_IF_ERROR(graph.Compile(*def));
//   if (graph.Reaches(def->expr->refs(), def->id)) ...;   // a cycle
//   Definition& d = graph.Install(std::move(def), old, batch);
//
// generation() changes whenever a definition is installed or removed.
// Thread-safety: none; the catalog's single writer changes it, readers hold
// its read lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "segments/evaluator.h"
#include "segments/internal/definition.h"
#include "segments/numeric_index.h"
#include "segments/person_table.h"
#include "store/key_codec.h"
#include "store/kv_store.h"

namespace facet::segments::internal {

// Keys of the catalog column.
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

// How an event or a timer marks a definition for re-evaluation: evaluate it
// (kMarkEvaluate), or only if one of its aggregates changes value
// (kMarkIfAggregatesChange: it reads events and time only through them).
inline constexpr uint8_t kMarkEvaluate = 1;
inline constexpr uint8_t kMarkIfAggregatesChange = 2;

class DefinitionGraph {
 public:
  using Definitions = std::vector<std::unique_ptr<Definition>>;
  using NameMap = std::map<std::string, uint32_t, std::less<>>;

  // `table` compiles rules (interning their names) and must outlive this.
  DefinitionGraph(PersonTable& table, EvalOptions eval) : table_(table), eval_(eval) {}

  // By id, null when deleted.
  const Definitions& defs() const { return defs_; }
  size_t size() const { return defs_.size(); }
  Definition& at(uint32_t id) const { return *defs_[id]; }
  // The tag or segment named `name`, or null.
  Definition* Find(bool segment, std::string_view name) const;
  const NameMap& tags_by_name() const { return tags_by_name_; }
  const NameMap& segments_by_name() const { return segments_by_name_; }
  // The id the next new definition gets.
  uint32_t next_id() const { return next_id_; }
  uint64_t generation() const { return generation_; }

  // Resolves tag and segment references by name (NotFound when unknown).
  RefLookup Lookup() const;
  // Parses and compiles d's rule into d.expr (InvalidArgument with line and
  // column, NotFound for an unknown reference).
  absl::Status Compile(Definition& d) const;
  // Whether `target` is reachable from `refs` through the references of the
  // definitions installed.
  bool Reaches(const std::vector<uint32_t>& refs, uint32_t target) const;
  // The level a tag under `parent` would be at (1: top; stops past 16).
  int Depth(const std::string& parent) const;

  static std::string Encode(const Definition& d);
  // DataLoss when the record is corrupt.
  static absl::StatusOr<std::unique_ptr<Definition>> Decode(uint32_t id, std::string_view record);

  // Stores d, new or replacing `old` (same id; d takes over its slot,
  // members and manual atoms), writes its record to `batch` and reindexes.
  // A new d must have id next_id() and its slot set.
  Definition& Install(std::unique_ptr<Definition> d, Definition* old, store::WriteBatch* batch);
  // Removes d (deleting its records in `batch`) and reindexes, handing it
  // back; FailedPrecondition, and nothing changed, while another definition
  // refers to it.
  absl::StatusOr<std::unique_ptr<Definition>> Remove(Definition& d, store::WriteBatch* batch);

  // Loading: drops every definition and sets the id counter; Restore() puts
  // back a decoded one (id < next_id); IndexNames() then indexes them by
  // name, and Reindex() the rest once they are compiled.
  void Reset(uint32_t next_id);
  void Restore(std::unique_ptr<Definition> d);
  void IndexNames();

  // Recomputes the evaluation order and the indexes below.
  void Reindex();

  // Compiled definitions, every one after those it references.
  const std::vector<uint32_t>& order() const { return order_; }
  // The definitions an event name / a trait key reaches; null when none.
  const std::vector<uint32_t>* ByEvent(uint32_t event_name) const {
    auto it = by_event_.find(event_name);
    return it == by_event_.end() ? nullptr : &it->second;
  }
  const std::vector<uint32_t>* ByTrait(uint32_t trait_key) const {
    auto it = by_trait_.find(trait_key);
    return it == by_trait_.end() ? nullptr : &it->second;
  }
  const std::vector<uint32_t>& any_event() const { return any_event_; }
  const std::vector<uint32_t>& time_dependent() const { return time_dependent_; }
  // By id: the definitions referring to it directly, sorted.
  const std::vector<std::vector<uint32_t>>& dependents() const { return dependents_; }
  // By id: how events and timers mark it (kMarkEvaluate or
  // kMarkIfAggregatesChange).
  const std::vector<uint8_t>& event_marks() const { return event_marks_; }
  // Numeric trait columns definitions compare (those that existed at the
  // last Reindex; the table never drops a column).
  const std::vector<const NumericIndex*>& compared_trait_columns() const { return compared_trait_columns_; }

 private:
  PersonTable& table_;
  EvalOptions eval_;

  Definitions defs_;
  NameMap tags_by_name_, segments_by_name_;
  uint32_t next_id_ = 0;
  uint64_t generation_ = 0;

  std::vector<uint32_t> order_;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> by_event_, by_trait_;
  std::vector<uint32_t> any_event_, time_dependent_;
  std::vector<std::vector<uint32_t>> dependents_;
  std::vector<uint8_t> event_marks_;
  std::vector<const NumericIndex*> compared_trait_columns_;
};

}  // namespace facet::segments::internal
