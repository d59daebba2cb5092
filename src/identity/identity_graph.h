// IdentityGraph: who is who. Maps identifiers to dense PersonIds, merges
// persons when events link their identifiers (under merge rules), logs every
// merge and can undo it.
//
// Model. Every person is created as an *atom* with its own PersonId and its
// own identifiers. A merge makes the absorbed root a child of the surviving
// root; the persons visible to users are the roots (the "surviving person"),
// and a root's identifiers are those of every atom in its subtree. Undoing a
// merge cuts that edge again, so each side gets back exactly its own atoms
// and with them its identifiers (and, in profiles/, its traits and events).
//
//   IdentityGraph graph(kv, options);
//   RETURN_IF_ERROR(graph.Load());
//   store::WriteBatch batch;
//   ASSIGN_OR_RETURN(ResolveResult r, graph.Resolve(ids, now, "identify", &batch));
//   RETURN_IF_ERROR(kv.Write(batch, true));
//
// Thread-safety: not thread-safe. The ingest pipeline is the only writer and
// serialises readers against it with its own lock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"
#include "identity/identifier.h"
#include "store/kv_store.h"

namespace facet::identity {

enum class MergeStatus : uint8_t { kMerged = 0, kUndone = 1, kRefused = 2 };

// How far the source of an event is trusted: kServer for back-end sources
// (secret server write keys, imports, admin keys), kClient for browsers
// and apps, whose write key anyone can read.
enum class SourceTrust : uint8_t { kServer = 0, kClient = 1 };

// An identifier a person claimed through a client source and that nothing
// has confirmed yet (IdentityOptions::claim_namespaces).
struct Claim {
  Identifier id;
  TimeMs at = 0;  // last claimed
};

// One entry of the merge log. A refused link (a rule stopped it) is logged
// too, with `status == kRefused` and the rule in `detail`. The same link
// refused again (same surviving root, absorbed root and identifier) reuses
// its entry, so repeated events do not grow the log.
struct MergeRecord {
  uint64_t id = 0;
  MergeStatus status = MergeStatus::kMerged;
  PersonId survivor = kNoPerson;  // root that absorbed (or would have)
  PersonId absorbed = kNoPerson;  // root that was absorbed (or would have been)
  TimeMs at = 0;
  TimeMs undone_at = 0;
  std::string reason;  // what linked them: "identify", "alias", "track", ...
  Identifier via;      // the identifier that linked them
  std::string detail;  // for refusals: which rule, e.g. "user_id limit 1"
};

struct ResolveResult {
  PersonId person = kNoPerson;     // root the event is attributed to
  bool created = false;            // a new person was created for it
  std::vector<uint64_t> merges;    // ids of merges performed
  std::vector<uint64_t> refusals;  // ids of refused links (merge log entries)
  std::vector<PersonId> absorbed;  // roots that stopped being roots
};

struct UndoResult {
  PersonId survivor_root = kNoPerson;  // current root of the survivor side
  PersonId restored = kNoPerson;       // the absorbed side, a root again
};

class IdentityGraph {
 public:
  // `kv` must outlive the graph.
  IdentityGraph(store::KvStore& kv, IdentityOptions options);
  ~IdentityGraph();
  IdentityGraph(const IdentityGraph&) = delete;
  IdentityGraph& operator=(const IdentityGraph&) = delete;

  // Loads the graph from the store (atoms, index, merge log, counters).
  // DataLoss when stored records are malformed or inconsistent;
  // FailedPrecondition when `options.hmac_key` is not the key the store was
  // written with. On error the graph is left as it was.
  absl::Status Load();

  // Resolves the identifiers of one event, most trusted first (user_id, then
  // the others in the order given). Already normalised. Rules:
  //  - no identifier known: a new atom holding all of them (each namespace
  //    capped by max_per_namespace; identifiers over the cap are refused and
  //    logged);
  //  - otherwise the target is the root of the first known identifier; every
  //    other known identifier's root is merged into the target unless that
  //    would break a rule (two different user_ids, or a namespace cap over the
  //    union), in which case the link is refused and logged, never merged;
  //  - but when the most trusted identifier is unknown and the target cannot
  //    take it (a new user_id on a device of another user), it starts a new
  //    person that becomes the target, and the links to the others are
  //    checked like merges (and so refused);
  //  - unknown identifiers are attached to the target's root atom, again
  //    subject to the caps;
  //  - with `trust` kClient, identifiers of IdentityOptions::claim_namespaces
  //    are claims: they never choose the target nor link another person (a
  //    claim held by another person is a refused link, logged), and an
  //    unknown one joins the target only when the event also carries a
  //    user_id the target already held; otherwise it is kept as an
  //    unverified Claim of the target (the newest kMaxClaimsPerAtom per
  //    atom). A server source attaching a claimed identifier confirms it.
  // The surviving root of a merge is the target, except that a person with
  // a user_id survives one without (and then becomes the target). All mutations are appended
  // to `batch`; the in-memory graph is updated at once (the caller writes
  // the batch before acknowledging). `reason` is recorded in merge records.
  // An identifier repeated within `ids` counts once. InvalidArgument for an
  // empty `ids` or an identifier with an empty namespace or value; nothing
  // changes then.
  absl::StatusOr<ResolveResult> Resolve(std::span<const Identifier> ids, TimeMs at, std::string_view reason,
                                        store::WriteBatch* batch, SourceTrust trust = SourceTrust::kServer);
  // The same, with `digests[i]` the pseudonym of `ids[i]` computed
  // beforehand by a copy of pseudonymizer() (e.g. on the thread that parsed
  // the event, so that the graph's single writer does not hash).
  // InvalidArgument when the two spans differ in length.
  absl::StatusOr<ResolveResult> Resolve(std::span<const Identifier> ids, std::span<const IdentifierDigest> digests,
                                        TimeMs at, std::string_view reason, store::WriteBatch* batch,
                                        SourceTrust trust = SourceTrust::kServer);

  // The root person holding `id` (normalised), or NotFound;
  // InvalidArgument when no identifier ever had its namespace (and it is
  // not a built-in one).
  absl::StatusOr<PersonId> Find(const Identifier& id) const;

  // The root of `atom`'s tree (the atom itself when it is a root).
  PersonId Root(PersonId atom) const;
  bool IsRoot(PersonId atom) const;
  bool Exists(PersonId atom) const;

  // Atoms of the tree rooted at `root`, `root` first.
  std::vector<PersonId> Members(PersonId root) const;

  // Identifiers of every atom in `root`'s tree, in the order they were added.
  std::vector<Identifier> Identities(PersonId root) const;

  // Unverified claims of every atom in `root`'s tree, oldest first.
  std::vector<Claim> Claims(PersonId root) const;
  static constexpr size_t kMaxClaimsPerAtom = 16;

  // Merge log entries that involve any atom of `root`'s tree, oldest first.
  std::vector<MergeRecord> MergesOf(PersonId root) const;

  // The merge log entry `id`, or NotFound.
  absl::StatusOr<MergeRecord> GetMerge(uint64_t id) const;

  // Undoes merge `id`: the absorbed side becomes a root again with its own
  // atoms. NotFound for an unknown id; FailedPrecondition when it was refused
  // or is already undone. Mutations go to `batch`.
  absl::StatusOr<UndoResult> UndoMerge(uint64_t id, TimeMs at, store::WriteBatch* batch);

  // Live persons (roots), atoms ever created, indexed identifiers, merges
  // performed (not undone), refused links.
  uint64_t person_count() const;
  uint64_t atom_count() const;
  uint64_t identity_count() const;
  uint64_t merge_count() const;
  uint64_t refusal_count() const;

  const Pseudonymizer& pseudonymizer() const;
  const IdentityOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace facet::identity
