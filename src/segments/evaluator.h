// Evaluator: a segment expression compiled against a PersonTable, evaluated
// for one person (incremental membership) or for a set of persons
// (previews, counts, recomputes), at an instant `as_of`. Semantics are those
// of docs/segment-language.md.
//
//   ASSIGN_OR_RETURN(Expr e, Parse(text));
//   ASSIGN_OR_RETURN(CompiledExpr c, Compile(e, table, refs));
//   bitmap::Bitmap members = c.Select(table.live(), as_of, &resolver);
//   bool in = c.Matches(person, as_of, &resolver, &next_change);
//
// Thread-safety: a CompiledExpr is immutable; evaluation reads the table and
// must not run concurrently with its mutation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"
#include "bitmap/bitmap.h"
#include "segments/ast.h"
#include "segments/numeric_index.h"
#include "segments/person_table.h"

namespace facet::segments {

// How tag() and segment() references are answered during evaluation.
class RefResolver {
 public:
  virtual ~RefResolver() = default;
  // Members of definition `ref` (an id the RefLookup gave) at `as_of`,
  // restricted to `candidates`.
  virtual bitmap::Bitmap Members(uint32_t ref, TimeMs as_of, const bitmap::Bitmap& candidates) = 0;
  // Whether `person` is a member of `ref` at `as_of`; lowers *next_change to
  // the earliest later instant at which that could change without new events.
  virtual bool Contains(uint32_t ref, PersonId person, TimeMs as_of, TimeMs* next_change) = 0;
  // Live members of `ref`, when evaluating at the live instant (now) and the
  // resolver keeps them; null otherwise (then Members() is used).
  virtual const bitmap::Bitmap* LiveMembers(uint32_t ref) { return nullptr; }
  // A live column of aggregate `key` (see CompiledExpr::aggregate_key()),
  // when evaluating at now and one is kept; null otherwise.
  virtual const NumericIndex* LiveAggregate(std::string_view key) { return nullptr; }
};

// Resolves a reference at compile time: the id of tag or segment `name`
// (kind kTagRef or kSegmentRef), or NotFound.
using RefLookup = std::function<absl::StatusOr<uint32_t>(Expr::Kind kind, std::string_view name)>;

struct EvalOptions {
  // Time zone of hour_share, as an offset from UTC.
  TimeMs utc_offset_ms = 8LL * 3600 * 1000;
  // Intern the names the expression uses (for definitions that live on and
  // must match events yet to come). Off: names are only looked up, and the
  // table is not changed (safe beside other readers).
  bool intern = true;
};

class CompiledExpr {
 public:
  CompiledExpr();
  ~CompiledExpr();
  CompiledExpr(CompiledExpr&&) noexcept;
  CompiledExpr& operator=(CompiledExpr&&) noexcept;

  // Persons of `candidates` the expression selects at `as_of`.
  bitmap::Bitmap Select(const bitmap::Bitmap& candidates, TimeMs as_of, RefResolver* refs) const;

  // The number of persons Select() would return, without building the set
  // when the whole expression is a bitmap formula.
  uint64_t Count(const bitmap::Bitmap& candidates, TimeMs as_of, RefResolver* refs) const;

  // Whether live person `person` is selected at `as_of`. `next_change`
  // (optional) is lowered to the earliest instant after as_of at which the
  // answer may change with no new event (window ends, day boundaries, events
  // dated in the future); kNever when it cannot.
  //
  // `aggregates` (optional): columns holding, for this person at this
  // as_of, the value of each aggregate i (aggregate_key(i)) — already
  // computed, and their timing already in *next_change — read instead of
  // recomputed.
  bool Matches(PersonId person, TimeMs as_of, RefResolver* refs, TimeMs* next_change = nullptr,
               const std::vector<NumericIndex*>* aggregates = nullptr) const;
  // The same for a person whose row the caller holds (table.Get(person)),
  // when one person is checked against many definitions.
  bool Matches(const PersonTable::Person& row, PersonId person, TimeMs as_of, RefResolver* refs, TimeMs* next_change,
               const std::vector<NumericIndex*>* aggregates) const;

  // Prepares MatchesLive(): aggregate i is read from columns[i] (live
  // columns such as a catalog keeps; they must outlive the expression).
  void BindLive(const std::vector<NumericIndex*>& columns);
  // Matches(row, person, as_of, refs, next_change, &columns) with the
  // columns of BindLive(), for checking one person against many
  // definitions: numeric tests of aggregates and numeric traits read their
  // columns directly.
  bool MatchesLive(const PersonTable::Person& row, PersonId person, TimeMs as_of, RefResolver* refs,
                   TimeMs* next_change) const;

  // Whether the answer can depend on the passage of time (windows, days
  // since, as_of-relative events).
  bool time_dependent() const;
  // Whether it reads events / traits / location / references.
  bool uses_events() const;
  bool uses_traits() const;
  // What can change the answer for a person (besides time): events with
  // these interned names, any event (first/last touch, "*", location),
  // these interned trait paths, references.
  const std::vector<uint32_t>& event_names() const;
  bool any_event() const;
  // Whether events and time reach the answer only through the aggregates
  // (so that, traits and references unchanged, the answer can only change
  // when one of their values does).
  bool events_only_through_aggregates() const;
  const std::vector<uint32_t>& trait_keys() const;
  const std::vector<uint32_t>& refs() const;

  // Aggregates the expression compares (count/sum/avg/min/max/days_since_*/
  // hour_share), each once, by a canonical key such as
  // `count("Order Completed", 90d)`.
  size_t aggregate_count() const;
  const std::string& aggregate_key(size_t i) const;
  // The value of aggregate i for live person `person` (its row:
  // table.Get(person)) at `as_of` (nullopt: NULL); lowers *next_change like
  // Matches().
  std::optional<double> AggregateValue(size_t i, const PersonTable::Person& row, PersonId person, TimeMs as_of,
                                       TimeMs* next_change) const;

  static constexpr TimeMs kNever = INT64_MAX;

 private:
  friend absl::StatusOr<CompiledExpr> Compile(const Expr& e, PersonTable& table, const RefLookup& refs,
                                              EvalOptions options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Compiles `e` against `table` (interning the names it uses). NotFound when
// a reference does not resolve.
absl::StatusOr<CompiledExpr> Compile(const Expr& e, PersonTable& table, const RefLookup& refs,
                                     EvalOptions options = {});

}  // namespace facet::segments
