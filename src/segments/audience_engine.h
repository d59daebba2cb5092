// AudienceEngine: keeps the segment engine in step with the ingest
// pipeline's state. It owns the PersonTable and the Catalog, rebuilds them
// from the event log at start-up, and folds in every event, merge and undo
// as the pipeline commits them, appending membership changes to the same
// write batch.
//
//   AudienceEngine engine(kv, graph, profiles, options);
//   pipeline.SetAudienceEngine(&engine);   // before Start(): recovery rebuilds it
//
// Thread-safety: the pipeline calls it on its committer thread under its
// state lock; readers use table()/catalog() under the pipeline's read lock.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "identity/identity_graph.h"
#include "profiles/event.h"
#include "profiles/profile_store.h"
#include "segments/catalog.h"
#include "segments/person_table.h"
#include "store/kv_store.h"

namespace facet::segments {

class AudienceEngine {
 public:
  // All references must outlive the engine.
  AudienceEngine(store::KvStore& kv, const identity::IdentityGraph& graph, const profiles::ProfileStore& profiles,
                 CatalogOptions options = {}, PersonTableOptions table_options = {});

  // Rebuilds the PersonTable from every stored event and the profiles, then
  // loads the catalog. Call after the graph and profiles are loaded.
  absl::Status Recover(TimeMs now, store::WriteBatch* batch);

  // `e` was applied to profiles for root `root` (after any merges it caused).
  void OnEvent(const profiles::Event& e, PersonId root, TimeMs now, store::WriteBatch* batch);
  // The same, with `fields` read from `e` beforehand (EventFields(e)), e.g.
  // on the thread that parsed it. Appends to `warnings` (optional) the
  // event's trait paths that are not indexed (PersonTableOptions' bounds).
  void OnEvent(const profiles::Event& e, const EventFields& fields, PersonId root, TimeMs now, store::WriteBatch* batch,
               std::vector<std::string>* warnings = nullptr);
  // Profiles already folded `absorbed` into `survivor`.
  void OnMerge(PersonId survivor, PersonId absorbed, TimeMs now, store::WriteBatch* batch);
  // A merge was undone; profiles' views are rebuilt.
  void OnUndo(const identity::UndoResult& undo, TimeMs now, store::WriteBatch* batch);
  // Timers due by `now`.
  void Advance(TimeMs now, store::WriteBatch* batch);
  // Writes membership snapshots.
  void Snapshot(store::WriteBatch* batch) const { catalog_.Snapshot(batch); }

  PersonTable& table() { return table_; }
  const PersonTable& table() const { return table_; }
  Catalog& catalog() { return catalog_; }
  const Catalog& catalog() const { return catalog_; }

 private:
  void SyncProfile(PersonId root, std::vector<uint32_t>* changed = nullptr,
                   std::vector<PersonTable::Unindexed>* unindexed = nullptr);

  const identity::IdentityGraph& graph_;
  const profiles::ProfileStore& profiles_;
  store::KvStore& kv_;
  PersonTable table_;
  Catalog catalog_;
  std::vector<uint32_t> scratch_keys_;
  std::vector<PersonTable::Unindexed> scratch_unindexed_;
};

}  // namespace facet::segments
