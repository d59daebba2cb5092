#include "segments/audience_engine.h"

#include <string>
#include <vector>

#include "base/status.h"
#include "profiles/timeline.h"

namespace facet::segments {

AudienceEngine::AudienceEngine(store::KvStore& kv, const identity::IdentityGraph& graph,
                               const profiles::ProfileStore& profiles, CatalogOptions options,
                               PersonTableOptions table_options)
    : graph_(graph), profiles_(profiles), kv_(kv), table_(table_options), catalog_(kv, table_, options) {}

void AudienceEngine::SyncProfile(PersonId root, std::vector<uint32_t>* changed,
                                 std::vector<PersonTable::Unindexed>* unindexed) {
  const profiles::Profile& view = profiles_.View(root);
  table_.SetTraits(root, view.traits, changed, unindexed);
  if (view.location && view.location->has_coordinates()) {
    table_.SetLocation(root, view.location->latitude, view.location->longitude, view.location_at);
  }
}

absl::Status AudienceEngine::Recover(TimeMs now, store::WriteBatch* batch) {
  RETURN_IF_ERROR(Annotate(profiles::ForEachEventAfter(kv_, 0,
                                                       [&](const profiles::Event& e) {
                                                         table_.AddEvent(graph_.Root(e.person), e);
                                                         return absl::OkStatus();
                                                       }),
                           "rebuilding the segment engine's person table"));
  for (PersonId atom = 0; atom < graph_.atom_count(); ++atom) {
    if (!graph_.IsRoot(atom)) continue;
    table_.Touch(atom);
    SyncProfile(atom);
  }
  return Annotate(catalog_.Load(
                      now, [&](PersonId atom) { return graph_.Exists(atom) ? graph_.Root(atom) : kNoPerson; }, batch),
                  "loading tags and segments");
}

void AudienceEngine::OnEvent(const profiles::Event& e, PersonId root, TimeMs now, store::WriteBatch* batch) {
  OnEvent(e, EventFields(e), root, now, batch);
}

void AudienceEngine::OnEvent(const profiles::Event& e, const EventFields& fields, PersonId root, TimeMs now,
                             store::WriteBatch* batch, std::vector<std::string>* warnings) {
  table_.AddEvent(root, e, fields);
  scratch_keys_.clear();
  scratch_unindexed_.clear();
  if (!e.traits.empty() || (e.location && e.location->has_coordinates())) {
    SyncProfile(root, &scratch_keys_, &scratch_unindexed_);
  }
  if (warnings) {
    // The profile's every unindexed path is reported again on each sync:
    // name only those this event set.
    for (const PersonTable::Unindexed& u : scratch_unindexed_) {
      const std::string_view path = u.path;
      for (const auto& [key, json] : e.traits) {
        if (!path.starts_with(key) || (path.size() > key.size() && path[key.size()] != '.')) continue;
        warnings->push_back("traits." + u.path + ": not indexed for segments (" + u.reason + "); kept in the profile");
        break;
      }
    }
  }
  uint32_t name = e.type == profiles::EventType::kTrack ? table_.strings().Find(e.name) : StringPool::kNone;
  catalog_.OnEvent(root, name, scratch_keys_, e.location.has_value(), now, batch);
}

void AudienceEngine::OnMerge(PersonId survivor, PersonId absorbed, TimeMs now, store::WriteBatch* batch) {
  table_.Merge(survivor, absorbed);
  SyncProfile(survivor);
  catalog_.OnMerge(survivor, absorbed, now, batch);
}

void AudienceEngine::OnUndo(const identity::UndoResult& undo, TimeMs now, store::WriteBatch* batch) {
  std::vector<PersonId> restored_atoms = graph_.Members(undo.restored);
  std::vector<PersonId> survivor_atoms = graph_.Members(undo.survivor_root);
  table_.Split(undo.survivor_root, undo.restored, restored_atoms);
  SyncProfile(undo.survivor_root);
  SyncProfile(undo.restored);
  catalog_.OnSplit(undo.survivor_root, survivor_atoms, undo.restored, restored_atoms, now, batch);
}

void AudienceEngine::Advance(TimeMs now, store::WriteBatch* batch) {
  if (catalog_.next_timer() <= now) catalog_.Advance(now, batch);
}

}  // namespace facet::segments
