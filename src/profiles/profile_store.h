// ProfileStore: the profiles of all persons, in memory, checkpointed to the
// store and rebuilt from the event log after the last checkpoint.
//
// Each atom (see identity/identity_graph.h) has its own profile, built from
// the events attributed to it. The profile of a merged person is the
// Combine() of its atoms' profiles, cached for roots with more than one atom.
//
//   ProfileStore profiles(kv);
//   RETURN_IF_ERROR(profiles.Load());             // checkpoint
//   ... replay events with seq > profiles.watermark() through Apply() ...
//   profiles.RebuildView(root, graph.Members(root)) for merged roots
//
// Thread-safety: not thread-safe; the ingest pipeline serialises access.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "base/types.h"
#include "profiles/profile.h"
#include "store/kv_store.h"

namespace facet::profiles {

class ProfileStore {
 public:
  explicit ProfileStore(store::KvStore& kv);
  ~ProfileStore();

  // Loads the last checkpoint: atom profiles and the watermark.
  // Person ids at or above `person_limit` (the number of persons the
  // identity graph knows) are corrupt, and so is the checkpoint: DataLoss.
  absl::Status Load(PersonId person_limit = kNoPerson);

  // Highest event seq included in the loaded/last written checkpoint (0: none).
  EventSeq watermark() const;

  // Applies `e` to the profile of atom `e.person`, and to the cached view of
  // `root` (the root of e.person) when it has one. An event whose seq is not
  // above the atom's applied_seq is already in the profile (replay after a
  // checkpoint written in rounds) and is ignored. A `root` other than
  // e.person without a view gets one started from the two atoms; call
  // RebuildView() when it has more atoms than those.
  void Apply(const Event& e, PersonId root);

  // `absorbed_root` was merged into `survivor_root`: the survivor's view
  // becomes the combination of both.
  void OnMerge(PersonId survivor_root, PersonId absorbed_root);

  // Recomputes the view of `root` from its atoms (`members`, root first);
  // used after an undo and at load.
  void RebuildView(PersonId root, std::span<const PersonId> members);

  // The profile of person `root` (an empty profile for unknown ids).
  const Profile& View(PersonId root) const;

  // Checkpoints in rounds, a bounded slice at a time, so that no single
  // write stalls ingest. If no round is running, starts one at `upto`: the
  // atoms changed so far are its to write. Then appends at most `max_atoms`
  // of them to `batch`; with the round's last atom it also appends the
  // round's watermark. Returns true while the round has atoms left.
  // Atoms changed during a round belong to the next one. Correct because
  // each stored profile records its applied_seq: replay after the watermark
  // skips events a profile already holds (see Apply()).
  bool CheckpointStep(EventSeq upto, size_t max_atoms, store::WriteBatch* batch);

  // Finishes any running round and checkpoints everything up to `upto`.
  void Checkpoint(EventSeq upto, store::WriteBatch* batch);

  // Atoms changed and not yet checkpointed (including a running round's).
  size_t dirty_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace facet::profiles
