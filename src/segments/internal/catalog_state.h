// Catalog::State: the composition behind Catalog: its definitions
// (DefinitionGraph), the live aggregate columns (LiveAggregates) and the
// membership kept from both (Membership), held by value, plus the steps that
// change more than one of them. Private to catalog*.cc. Thread-safety: none;
// the catalog's single writer changes it, readers hold its read lock.
#pragma once

#include <memory>
#include <utility>

#include "base/status.h"
#include "segments/catalog.h"
#include "segments/internal/definition.h"
#include "segments/internal/definition_graph.h"
#include "segments/internal/live_aggregates.h"
#include "segments/internal/membership.h"
#include "store/kv_store.h"

namespace facet::segments {

struct Catalog::State {
  State(store::KvStore& kv, PersonTable& table, CatalogOptions options)
      : kv(kv), table(table), options(options), graph(table, options.eval), membership(graph, aggregates, table) {}

  store::KvStore& kv;
  PersonTable& table;
  CatalogOptions options;
  internal::DefinitionGraph graph;
  internal::LiveAggregates aggregates;
  internal::Membership membership;

  // References evaluated at an as_of other than now: from their rules at
  // that instant instead of from live members.
  struct AsOfRefs : RefResolver {
    explicit AsOfRefs(const State& s) : s(s) {}
    bitmap::Bitmap Members(uint32_t ref, TimeMs as_of, const bitmap::Bitmap& candidates) override {
      internal::Definition& d = s.graph.at(ref);
      return d.expr ? d.expr->Select(candidates, as_of, this) : d.members & candidates;
    }
    bool Contains(uint32_t ref, PersonId person, TimeMs as_of, TimeMs* next_change) override {
      internal::Definition& d = s.graph.at(ref);
      return d.expr ? d.expr->Matches(person, as_of, this, next_change) : s.membership.IsMember(d, person);
    }
    const State& s;
  };

  // Stores the new or replacing definition d (`old`: the one it replaces,
  // whose id and members it takes over) and computes its members; a
  // replacement records the changes and recomputes what refers to it.
  void Install(std::unique_ptr<internal::Definition> d, internal::Definition* old, TimeMs now, store::WriteBatch* batch,
               RefResolver* refs) {
    const bool old_labelled = old && !old->expr;
    if (!old) d->slot = membership.AcquireSlot();
    internal::Definition& nd = graph.Install(std::move(d), old, batch);
    membership.OnReindex();
    if (nd.expr) {
      membership.Recompute(nd, now, old ? batch : nullptr, refs);
    } else if (!old_labelled) {
      // Manual members follow merges in `members` (the atoms labelled may
      // have been absorbed since): only a tag that was not manual starts over.
      membership.AssignMembers(nd, nd.manual_atoms & table.live(), now, nullptr);
    }
    if (old) membership.RecomputeDependents(nd.id, now, batch, refs);
  }

  // Deletes definition d unless another refers to it (FailedPrecondition).
  absl::Status Remove(internal::Definition& d, store::WriteBatch* batch) {
    ASSIGN_OR_RETURN(std::unique_ptr<internal::Definition> removed, graph.Remove(d, batch));
    membership.ReleaseSlot(*removed);
    membership.OnReindex();
    removed.reset();
    aggregates.Prune(graph.defs());
    return absl::OkStatus();
  }
};

}  // namespace facet::segments
