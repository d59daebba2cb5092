// Catalog: the tag system (标签体系) and saved audiences (人群包) with live
// membership. Rule tags and segments are expressions of the segment
// language; manual tags hold members set by identifier; model tags are set
// by later modules. Every definition's members are a Bitmap kept up to date
// per event (only the definitions an event can affect are re-evaluated),
// per merge and undo, and as time windows move (per-person timers).
//
//   Catalog catalog(kv, table, options);
//   RETURN_IF_ERROR(catalog.Load(now, root_of, &batch));  // after the PersonTable is rebuilt
//   store::WriteBatch batch;
//   RETURN_IF_ERROR(catalog.PutTag(def, now, &batch));
//   catalog.OnEvent(root, event_name, traits_changed, now, &batch);
//   catalog.Advance(now, &batch);             // timers
//   ASSIGN_OR_RETURN(Selection s, catalog.Preview(expr, std::nullopt));
//
// Mutations apply in memory at once and append their records to `batch`;
// the caller writes it before acknowledging. Thread-safety: none; the ingest
// pipeline serialises writers, readers take its read lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"
#include "bitmap/bitmap.h"
#include "segments/evaluator.h"
#include "segments/person_table.h"
#include "store/kv_store.h"

namespace facet::segments {

enum class TagKind : uint8_t { kRule = 0, kManual = 1, kModel = 2 };
std::string_view TagKindName(TagKind k);  // "rule", "manual", "model"

struct TagDef {
  std::string name;          // stable name: 1-128 bytes of UTF-8, no '/', quotes or control characters
  std::string display_name;  // any UTF-8; defaults to name
  std::string parent;        // empty at the top; at most 4 levels
  std::string description;
  std::string owner;
  TagKind kind = TagKind::kRule;
  std::string rule;  // kRule: the expression
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

struct SegmentDef {
  std::string name;
  std::string description;
  std::string expression;
  std::string owner;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

// A person entering (true) or leaving a tag or segment.
struct MembershipChange {
  uint64_t seq = 0;  // increasing across all definitions
  PersonId person = kNoPerson;
  bool entered = false;
  TimeMs at = 0;
};

struct CatalogOptions {
  EvalOptions eval;
  size_t max_depth = 4;  // tag hierarchy levels
  // Longest a one-off evaluation (a preview) may take; past it, it stops
  // with InvalidArgument.
  TimeMs eval_budget_ms = 2000;
};

// How a one-off evaluation shares the engine with its writer.
struct EvalSlicing {
  // Called between slices of persons, with no state of the evaluation
  // borrowed: the caller releases its read lock there and takes it again,
  // so that the writer (ingest) waits at most one slice. Null: one pass.
  std::function<void()> yield;
  // Target time of one slice.
  TimeMs slice_ms = 5;
};

class Catalog : public RefResolver {
 public:
  Catalog(store::KvStore& kv, PersonTable& table, CatalogOptions options = {});
  ~Catalog() override;

  // Loads definitions and manual members (mapped to their current roots by
  // `root_of`), then computes every membership at `now` from the PersonTable. Where a stored snapshot of a rule's
  // members differs (time passed, events replayed), the differences are recorded as changes at `now` into `batch`.
  // DataLoss for corrupt records.
  absl::Status Load(TimeMs now, const std::function<PersonId(PersonId)>& root_of, store::WriteBatch* batch);

  // Creates or replaces a tag. InvalidArgument for a bad name, a parse error
  // (with line and column), a parent that would exceed the depth or make a
  // cycle; NotFound for an unknown parent or reference; FailedPrecondition
  // for a reference cycle or a kind change of a tag with manual members.
  absl::Status PutTag(TagDef def, TimeMs now, store::WriteBatch* batch);
  // NotFound; FailedPrecondition while children or definitions refer to it.
  absl::Status DeleteTag(std::string_view name, store::WriteBatch* batch);
  absl::StatusOr<TagDef> GetTag(std::string_view name) const;
  std::vector<TagDef> ListTags() const;  // parents before children, by name

  // Manual (and model) members, by person (a root of the identity graph).
  // InvalidArgument for a rule tag; NotFound for an unknown tag. Returns how
  // many persons were added / removed.
  absl::StatusOr<size_t> AddMembers(std::string_view tag, std::span<const PersonId> persons, TimeMs now,
                                    store::WriteBatch* batch);
  absl::StatusOr<size_t> RemoveMembers(std::string_view tag, std::span<const PersonId> persons, TimeMs now,
                                       store::WriteBatch* batch);

  // Replaces every member of a manual or model tag (a model's scores, an
  // imported list). Changes are recorded against the previous members,
  // except for a tag that had none (its first population is not a stream of
  // entries). InvalidArgument for a rule tag; NotFound for an unknown tag.
  absl::Status SetMembers(std::string_view tag, const bitmap::Bitmap& persons, TimeMs now, store::WriteBatch* batch);

  absl::Status PutSegment(SegmentDef def, TimeMs now, store::WriteBatch* batch);
  absl::Status DeleteSegment(std::string_view name, store::WriteBatch* batch);
  absl::StatusOr<SegmentDef> GetSegment(std::string_view name) const;
  std::vector<SegmentDef> ListSegments() const;

  // Live members of a tag or segment. NotFound when unknown.
  absl::StatusOr<const bitmap::Bitmap*> TagMembers(std::string_view name) const;
  absl::StatusOr<const bitmap::Bitmap*> SegmentMembers(std::string_view name) const;

  // Evaluates `expression`: at `as_of`, or (nullopt) now, from the live
  // memberships of what it references. InvalidArgument with line and column
  // for parse errors; NotFound for unknown references.
  // Does not change the catalog or the table: safe beside other readers.
  absl::StatusOr<bitmap::Bitmap> Evaluate(std::string_view expression, std::optional<TimeMs> as_of, TimeMs now) const;
  // The same in slices of persons (see EvalSlicing), within
  // CatalogOptions::eval_budget_ms: past it, InvalidArgument saying so.
  // Persons are evaluated as of the slice that holds them; definitions
  // changed between slices are compiled again (NotFound if one it uses was
  // deleted).
  absl::StatusOr<bitmap::Bitmap> Evaluate(std::string_view expression, std::optional<TimeMs> as_of, TimeMs now,
                                          const EvalSlicing& slicing) const;

  // The size of Evaluate()'s result, faster when nothing but the count is
  // needed.
  absl::StatusOr<uint64_t> Count(std::string_view expression, std::optional<TimeMs> as_of, TimeMs now) const;

  // Tags and segments `person` is in now (names).
  void MembershipOf(PersonId person, std::vector<std::string>* tags, std::vector<std::string>* segments) const;

  // Changes of a tag or segment with seq > after_seq and at >= since, oldest
  // first, at most `limit`. Read from the store (what was written).
  absl::StatusOr<std::vector<MembershipChange>> Changes(bool segment, std::string_view name, TimeMs since,
                                                        uint64_t after_seq, size_t limit) const;

  // Incremental maintenance. `event_name` is the interned name of a track
  // event (PersonTable strings) or StringPool::kNone for other events;
  // `trait_keys` the interned trait paths it changed.
  void OnEvent(PersonId person, uint32_t event_name, std::span<const uint32_t> trait_keys, bool location_changed,
               TimeMs now, store::WriteBatch* batch);
  // After PersonTable::Merge: `absorbed` leaves everything.
  void OnMerge(PersonId survivor, PersonId absorbed, TimeMs now, store::WriteBatch* batch);
  // After PersonTable::Split; atoms of each side for manual members.
  void OnSplit(PersonId survivor, std::span<const PersonId> survivor_atoms, PersonId restored,
               std::span<const PersonId> restored_atoms, TimeMs now, store::WriteBatch* batch);
  // Runs the timers due at or before `now`. Returns how many persons were
  // re-evaluated.
  size_t Advance(TimeMs now, store::WriteBatch* batch);
  // The earliest pending timer, or CompiledExpr::kNever.
  TimeMs next_timer() const;

  // Writes a checksummed snapshot of every rule membership to `batch`.
  void Snapshot(store::WriteBatch* batch) const;

  size_t tag_count() const;
  size_t segment_count() const;
  uint64_t change_count() const;
  // Heap bytes of the membership bitmaps, the per-person membership rows
  // and the live aggregate columns.
  size_t MemoryBytes() const;

  // RefResolver.
  bitmap::Bitmap Members(uint32_t ref, TimeMs as_of, const bitmap::Bitmap& candidates) override;
  bool Contains(uint32_t ref, PersonId person, TimeMs as_of, TimeMs* next_change) override;
  const bitmap::Bitmap* LiveMembers(uint32_t ref) override;
  const NumericIndex* LiveAggregate(std::string_view key) override;

 private:
  // Compiles an expression for one evaluation, without interning its names.
  absl::StatusOr<CompiledExpr> CompileOneOff(std::string_view expression) const;

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace facet::segments
