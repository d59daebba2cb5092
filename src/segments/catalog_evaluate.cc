// Catalog's one-off evaluations (previews): an expression evaluated now
// against the live memberships, or as of another instant from the rules.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include "base/status.h"
#include "base/str_cat.h"
#include "segments/catalog.h"
#include "segments/internal/catalog_state.h"
#include "segments/parser.h"

namespace facet::segments {

absl::StatusOr<CompiledExpr> Catalog::CompileOneOff(std::string_view expression) const {
  const State& s = *state_;
  ASSIGN_OR_RETURN(Expr e, Parse(expression));
  EvalOptions options = s.options.eval;
  options.intern = false;
  return Compile(e, s.table, s.graph.Lookup(), options);
}

absl::StatusOr<bitmap::Bitmap> Catalog::Evaluate(std::string_view expression, std::optional<TimeMs> as_of,
                                                 TimeMs now) const {
  State& s = *state_;
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  if (as_of) {
    State::AsOfRefs refs(s);
    return c.Select(s.table.live(), *as_of, &refs);
  }
  return c.Select(s.table.live(), now, const_cast<Catalog*>(this));
}

absl::StatusOr<bitmap::Bitmap> Catalog::Evaluate(std::string_view expression, std::optional<TimeMs> as_of, TimeMs now,
                                                 const EvalSlicing& slicing) const {
  using Clock = std::chrono::steady_clock;
  State& s = *state_;
  const auto started = Clock::now();
  const auto budget = std::chrono::milliseconds(s.options.eval_budget_ms);
  const auto slice_target = std::chrono::milliseconds(std::max<TimeMs>(slicing.slice_ms, 1));
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  uint64_t generation = s.graph.generation();
  bitmap::Bitmap result;
  // Slices start small (a costly expression must not hold the lock long
  // before its cost is known) and grow or shrink toward the target time.
  uint64_t slice = 256;
  uint64_t next = 0;
  while (true) {
    const bitmap::Bitmap& live = s.table.live();
    if (live.Empty() || next > live.Maximum()) break;
    const uint64_t hi = std::min<uint64_t>(next + slice, uint64_t{live.Maximum()} + 1);
    bitmap::Bitmap candidates = live & bitmap::Bitmap::Range(static_cast<PersonId>(next), static_cast<PersonId>(hi));
    const auto slice_started = Clock::now();
    if (as_of) {
      State::AsOfRefs refs(s);
      result |= c.Select(candidates, *as_of, &refs);
    } else {
      result |= c.Select(candidates, now, const_cast<Catalog*>(this));
    }
    next = hi;
    const auto took = Clock::now() - slice_started;
    if (Clock::now() - started > budget) {
      return absl::InvalidArgumentError(
          Cat("the expression did not finish within its budget of ", s.options.eval_budget_ms, " ms (evaluated ", next,
              " of ", uint64_t{live.Maximum()} + 1,
              " person ids); narrow it: fewer terms, shorter windows, or save it as a segment, which is kept "
              "up to date as events arrive"));
    }
    if (took < slice_target / 4) {
      slice *= 4;
    } else if (took > slice_target && slice > 16) {
      slice /= 2;
    }
    if (slicing.yield && next <= live.Maximum()) {
      slicing.yield();
      if (s.graph.generation() != generation) {
        ASSIGN_OR_RETURN(c, CompileOneOff(expression));
        generation = s.graph.generation();
      }
    }
  }
  // Persons merged away while slices were evaluated are no longer live.
  result &= s.table.live();
  return result;
}

absl::StatusOr<uint64_t> Catalog::Count(std::string_view expression, std::optional<TimeMs> as_of, TimeMs now) const {
  State& s = *state_;
  ASSIGN_OR_RETURN(CompiledExpr c, CompileOneOff(expression));
  if (as_of) {
    State::AsOfRefs refs(s);
    return c.Count(s.table.live(), *as_of, &refs);
  }
  return c.Count(s.table.live(), now, const_cast<Catalog*>(this));
}

}  // namespace facet::segments
