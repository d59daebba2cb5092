#include "segments/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "bitmap/bitmap_formula.h"
#include "segments/internal/compiled_node.h"
#include "segments/internal/live_program.h"
#include "segments/internal/person_eval.h"
#include "segments/string_index.h"

namespace facet::segments {
namespace {

using internal::EventFilter;
using internal::kAnyEvent;
using internal::kDayMs;
using internal::kEventCost;
using internal::kRefCost;
using internal::kTraitCost;
using internal::Node;
using internal::PersonEval;
using Person = PersonTable::Person;

std::string JoinPath(std::string_view prefix, const std::vector<std::string>& path) {
  std::string s(prefix);
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0 || !s.empty()) s += '.';
    s += path[i];
  }
  return s;
}

bool IsPredicate(Expr::Kind k) {
  return k == Expr::Kind::kCompare || k == Expr::Kind::kBetween || k == Expr::Kind::kIn || k == Expr::Kind::kIsNull ||
         k == Expr::Kind::kContains;
}

// Interns names (definitions that live on) or only looks them up (one-off
// evaluations, which must not change the table): a name never seen gets
// StringPool::kNone, which no event or trait has.
struct Names {
  PersonTable& table;
  bool intern;
  uint32_t operator()(std::string_view s) const { return intern ? table.strings().Intern(s) : table.strings().Find(s); }
};

struct Flags {
  bool time = false, events = false, traits = false, any_event = false;
  // Reads events other than through aggregates (sequences, touches, location).
  bool events_outside_aggregates = false;
  std::vector<uint32_t> event_names, trait_keys, refs;
  std::vector<std::string> aggregates;       // canonical keys
  std::vector<const Node*> aggregate_nodes;  // a node reading each (set after compiling)
};

// `count("E", 90d)`: the canonical text of an aggregate operand.
std::string AggregateKey(const Operand& o) {
  Expr e;
  e.kind = Expr::Kind::kIsNull;
  e.operand = o;
  std::string text = ToString(e);
  constexpr std::string_view kSuffix = " IS NULL";
  if (text.ends_with(kSuffix)) text.resize(text.size() - kSuffix.size());
  return text;
}

absl::StatusOr<Node> CompileNode(const Expr& e, const Names& names, const RefLookup& refs, Flags* flags);

absl::Status CompileFilter(const std::string& event, const std::shared_ptr<const Expr>& where, const Names& names,
                           const RefLookup& refs, Flags* flags, EventFilter* out) {
  out->name = event == "*" ? kAnyEvent : names(event);
  if (out->name == kAnyEvent) {
    flags->any_event = true;
  } else {
    flags->event_names.push_back(out->name);
  }
  if (where) {
    ASSIGN_OR_RETURN(Node w, CompileNode(*where, names, refs, flags));
    out->where = std::make_unique<Node>(std::move(w));
  }
  return absl::OkStatus();
}

absl::Status CompileOperand(const Operand& o, const Names& names, const RefLookup& refs, Flags* flags, Node* n) {
  n->operand = o.kind;
  switch (o.kind) {
    case Operand::Kind::kTrait:
      flags->traits = true;
      n->key = names(JoinPath("", o.path));
      n->cost = kTraitCost;
      flags->trait_keys.push_back(n->key);
      break;
    case Operand::Kind::kProperty:
      n->key = names(JoinPath("properties", o.path));
      break;
    case Operand::Kind::kFirstTouch:
    case Operand::Kind::kLastTouch:
      flags->events = flags->time = flags->any_event = flags->events_outside_aggregates = true;
      n->key = names(JoinPath("context", o.path));
      n->cost = kEventCost;
      break;
    case Operand::Kind::kAggregate:
      flags->events = flags->time = true;
      n->fn = o.fn;
      n->window_ms = o.window_ms;
      n->from_hour = o.from_hour;
      n->to_hour = o.to_hour;
      n->cost = kEventCost;
      if (!o.value_path.empty()) n->value_key = names(JoinPath("properties", o.value_path));
      RETURN_IF_ERROR(CompileFilter(o.event, o.where, names, refs, flags, &n->filter));
      n->source = o;
      {
        std::string key = AggregateKey(o);
        auto it = std::find(flags->aggregates.begin(), flags->aggregates.end(), key);
        n->aggregate = static_cast<int>(it - flags->aggregates.begin());
        if (it == flags->aggregates.end()) flags->aggregates.push_back(std::move(key));
      }
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<Node> CompileNode(const Expr& e, const Names& names, const RefLookup& refs, Flags* flags) {
  Node n;
  n.kind = e.kind;
  n.negated = e.negated;
  n.op = e.op;
  n.values = e.values;
  switch (e.kind) {
    case Expr::Kind::kAnd:
    case Expr::Kind::kOr:
    case Expr::Kind::kNot: {
      n.cost = kRefCost;
      for (const Expr& c : e.children) {
        ASSIGN_OR_RETURN(Node child, CompileNode(c, names, refs, flags));
        n.cost = std::max(n.cost, child.cost);
        n.children.push_back(std::move(child));
      }
      if (e.kind == Expr::Kind::kAnd) {
        std::stable_sort(n.children.begin(), n.children.end(),
                         [](const Node& a, const Node& b) { return a.cost < b.cost; });
      }
      break;
    }
    case Expr::Kind::kTagRef:
    case Expr::Kind::kSegmentRef: {
      ASSIGN_OR_RETURN(n.ref, refs(e.kind, e.name));
      n.cost = kRefCost;
      flags->refs.push_back(n.ref);
      break;
    }
    case Expr::Kind::kWithin:
      // Location comes with events.
      flags->events = flags->any_event = flags->events_outside_aggregates = true;
      n.latitude = e.latitude;
      n.longitude = e.longitude;
      n.radius_m = e.radius_m;
      n.cost = kTraitCost;
      break;
    case Expr::Kind::kSequence:
      flags->events = flags->time = flags->events_outside_aggregates = true;
      n.gap_ms = e.gap_ms;
      n.window_ms = e.window_ms;
      n.cost = kEventCost;
      for (int i = 0; i < 2 && i < static_cast<int>(e.steps.size()); ++i) {
        RETURN_IF_ERROR(CompileFilter(e.steps[i].event, e.steps[i].where, names, refs, flags, &n.steps[i]));
      }
      break;
    default:
      if (!IsPredicate(e.kind)) return absl::InvalidArgumentError("unknown expression node");
      RETURN_IF_ERROR(CompileOperand(e.operand, names, refs, flags, &n));
  }
  return n;
}

}  // namespace

struct CompiledExpr::Impl {
  Node root;
  Flags flags;
  EvalOptions options;
  const PersonTable* table = nullptr;
  internal::LiveProgram live;  // after BindLive()

  void CollectAggregates(const Node& n) {
    if (n.aggregate >= 0 && flags.aggregate_nodes[static_cast<size_t>(n.aggregate)] == nullptr) {
      flags.aggregate_nodes[static_cast<size_t>(n.aggregate)] = &n;
    }
    for (const Node& c : n.children) CollectAggregates(c);
  }

  bool Matches(const Node& n, PersonId person, TimeMs as_of, RefResolver* refs, TimeMs* next,
               const std::vector<NumericIndex*>* known = nullptr) const {
    const Person* p = table->Get(person);
    if (!p) return false;
    PersonEval eval(*table, *p, person, as_of, refs, options.utc_offset_ms, next, known);
    return eval.Eval(n);
  }

  // The numeric column answering comparisons on n's operand, if any: a
  // numeric trait's, or a live aggregate's (only at the live instant).
  const NumericIndex* Column(const Node& n, RefResolver* refs) const {
    if (n.operand == Operand::Kind::kTrait) return table->NumericTrait(n.key);
    if (n.operand == Operand::Kind::kAggregate && refs) {
      return refs->LiveAggregate(flags.aggregates[static_cast<size_t>(n.aggregate)]);
    }
    return nullptr;
  }

  // days_since_last(E, ...) < v holds exactly when some E falls in the last
  // ceil(v) days: the predicate `count(E, ...) >= 1` over the window of
  // those days. Pushes that from a live count column, when one is kept.
  bool RecentFormula(const Node& n, RefResolver* refs, bitmap::BitmapFormula* f) const {
    if (n.operand != Operand::Kind::kAggregate || n.fn != AggregateFn::kDaysSinceLast || !refs) return false;
    if (n.kind != Expr::Kind::kCompare || (n.op != CompareOp::kLt && n.op != CompareOp::kLe)) return false;
    const double* v = std::get_if<double>(&n.values[0]);
    if (!v || !(*v > 0) || *v > 1e6) return false;
    // Whole days d satisfy d < v (or d <= v) exactly when d <= m.
    double m = n.op == CompareOp::kLt ? std::ceil(*v) - 1 : std::floor(*v);
    if (m < 0) return false;
    Operand count = n.source;
    count.fn = AggregateFn::kCount;
    count.value_path.clear();
    TimeMs window = static_cast<TimeMs>(m + 1) * kDayMs;
    count.window_ms = n.window_ms > 0 ? std::min(n.window_ms, window) : window;
    const NumericIndex* c = refs->LiveAggregate(AggregateKey(count));
    if (!c || !c->indexed()) return false;
    f->Push(*c->AtMost(1, false)).Not();  // count >= 1; a count is never NULL
    return true;
  }

  // Appends to `f` the persons for which numeric predicate n holds, from the
  // range index of `c`. False when n is not such a predicate.
  static bool RangeFormula(const Node& n, const NumericIndex& c, bitmap::BitmapFormula* f) {
    if (!c.indexed()) return false;
    // count and sum are numbers for every person (0 without events), so
    // "at least" is the complement of "less than" with no presence bitmap.
    const bool total =
        n.operand == Operand::Kind::kAggregate && (n.fn == AggregateFn::kCount || n.fn == AggregateFn::kSum);
    auto number = [&](size_t i) -> const double* {
      return i < n.values.size() ? std::get_if<double>(&n.values[i]) : nullptr;
    };
    const double* v = number(0);
    if (!v) return false;
    if (n.kind == Expr::Kind::kBetween) {
      const double* hi = number(1);
      if (!hi || n.negated) return false;
      f->Push(*c.AtMost(*hi, true)).Push(*c.AtMost(*v, false)).AndNot();
      return true;
    }
    if (n.kind != Expr::Kind::kCompare) return false;
    switch (n.op) {
      case CompareOp::kLe:
        f->Push(*c.AtMost(*v, true));
        return true;
      case CompareOp::kLt:
        f->Push(*c.AtMost(*v, false));
        return true;
      case CompareOp::kGe:
        total ? f->Push(*c.AtMost(*v, false)).Not() : f->Push(c.present()).Push(*c.AtMost(*v, false)).AndNot();
        return true;
      case CompareOp::kGt:
        total ? f->Push(*c.AtMost(*v, true)).Not() : f->Push(c.present()).Push(*c.AtMost(*v, true)).AndNot();
        return true;
      case CompareOp::kEq:
        f->Push(*c.AtMost(*v, true)).Push(*c.AtMost(*v, false)).AndNot();
        return true;
      case CompareOp::kNe:
        return false;  // also values of other types
    }
    return false;
  }

  // Expresses n as a bitmap formula over live members and range indexes;
  // false (and `f` unusable) when some part cannot be.
  // Appends `sub` (a well-formed formula) to `f` as one more value.
  static void Append(const bitmap::BitmapFormula& sub, bitmap::BitmapFormula* f) {
    const auto offset = static_cast<uint32_t>(f->operands.size());
    f->operands.insert(f->operands.end(), sub.operands.begin(), sub.operands.end());
    for (bitmap::BitmapFormula::Instr in : sub.code) {
      if (in.op == bitmap::BitmapFormula::Op::kPush) in.arg += offset;
      f->code.push_back(in);
    }
  }

  // A conjunction: the positive parts first, then each negated part as an
  // and-not (cheaper than a complement over the universe).
  static void Conjunction(std::vector<bitmap::BitmapFormula>& parts, bitmap::BitmapFormula* f) {
    auto negated = [](const bitmap::BitmapFormula& g) {
      return !g.code.empty() && g.code.back().op == bitmap::BitmapFormula::Op::kNot;
    };
    std::stable_partition(parts.begin(), parts.end(), [&](const auto& g) { return !negated(g); });
    bool first = true;
    for (bitmap::BitmapFormula& g : parts) {
      if (!first && negated(g)) {
        g.code.pop_back();
        Append(g, f);
        f->AndNot();
      } else {
        Append(g, f);
        if (!first) f->And();
      }
      first = false;
    }
  }

  bool Formula(const Node& n, RefResolver* refs, bitmap::BitmapFormula* f) const {
    switch (n.kind) {
      case Expr::Kind::kAnd: {
        std::vector<bitmap::BitmapFormula> parts(n.children.size());
        for (size_t i = 0; i < n.children.size(); ++i) {
          if (!Formula(n.children[i], refs, &parts[i])) return false;
        }
        bitmap::BitmapFormula g;
        Conjunction(parts, &g);
        Append(g, f);
        return true;
      }
      case Expr::Kind::kOr:
        for (size_t i = 0; i < n.children.size(); ++i) {
          if (!Formula(n.children[i], refs, f)) return false;
          if (i > 0) f->Or();
        }
        return true;
      case Expr::Kind::kNot:
        if (!Formula(n.children[0], refs, f)) return false;
        f->Not();
        return true;
      case Expr::Kind::kTagRef:
      case Expr::Kind::kSegmentRef: {
        const bitmap::Bitmap* b = refs ? refs->LiveMembers(n.ref) : nullptr;
        if (!b) return false;
        f->Push(*b);
        return true;
      }
      case Expr::Kind::kCompare:
      case Expr::Kind::kBetween: {
        const NumericIndex* c = Column(n, refs);
        if (c && RangeFormula(n, *c, f)) return true;
        if (StringFormula(n, f)) return true;
        return RecentFormula(n, refs, f);
      }
      case Expr::Kind::kIn:
        return StringFormula(n, f);
      default:
        return false;
    }
  }

  // The string column of n's operand when n is a predicate on a trait that
  // only a string can satisfy (=, <, <=, >, >=, BETWEEN, IN against string
  // literals; not !=, NOT, which also select values of other types).
  const StringIndex* StringColumn(const Node& n) const {
    if (n.operand != Operand::Kind::kTrait || n.negated || n.values.empty()) return nullptr;
    if (n.kind == Expr::Kind::kCompare ? n.op == CompareOp::kNe
                                       : n.kind != Expr::Kind::kBetween && n.kind != Expr::Kind::kIn) {
      return nullptr;
    }
    for (const Literal& l : n.values) {
      if (!std::holds_alternative<std::string>(l)) return nullptr;
    }
    return table->StringTrait(n.key);
  }

  // Appends to `f` the persons for which string predicate n holds: the OR of
  // the bitmaps of the distinct values satisfying it. False when n is not
  // such a predicate or the column keeps no bitmaps.
  bool StringFormula(const Node& n, bitmap::BitmapFormula* f) const {
    const StringIndex* c = StringColumn(n);
    if (!c || !c->indexed()) return false;
    bool any = false;
    for (const auto& [value, persons] : c->holders()) {
      if (!Predicate(n, Value::String(table->strings().Get(value)))) continue;
      f->Push(persons);
      if (any) f->Or();
      any = true;
    }
    if (!any) f->Push(c->Holding(StringIndex::kNone));  // nobody
    return true;
  }

  bitmap::Bitmap ByFormula(const bitmap::BitmapFormula& f, const bitmap::Bitmap& candidates) const {
    absl::StatusOr<bitmap::Bitmap> r = bitmap::EvaluateFormula(f, candidates);
    return r.ok() ? *std::move(r) : bitmap::Bitmap();  // a formula built here is well formed
  }

  // Persons of `candidates` for which a predicate on a numeric or string
  // column holds, by scanning the column (columns too varied for bitmaps);
  // a string predicate is decided once per distinct value.
  bool ScanColumn(const Node& n, const bitmap::Bitmap& candidates, RefResolver* refs, bitmap::Bitmap* out) const {
    if (const StringIndex* c = StringColumn(n)) {
      absl::flat_hash_map<uint32_t, bool> decided;
      std::vector<PersonId> in;
      (candidates & c->present()).ForEach([&](PersonId id) {
        const uint32_t value = c->Get(id);
        auto [it, fresh] = decided.try_emplace(value, false);
        if (fresh) it->second = Predicate(n, Value::String(table->strings().Get(value)));
        if (it->second) in.push_back(id);
        return true;
      });
      *out = bitmap::Bitmap::Of(in);
      return true;
    }
    if (n.kind != Expr::Kind::kCompare && n.kind != Expr::Kind::kBetween) return false;
    if (n.kind == Expr::Kind::kCompare && n.op == CompareOp::kNe) return false;
    const NumericIndex* c = Column(n, refs);
    if (!c) return false;
    for (const Literal& l : n.values) {
      if (!std::holds_alternative<double>(l)) return false;
    }
    std::vector<PersonId> in;
    (candidates & c->present()).ForEach([&](PersonId id) {
      if (Predicate(n, Value::Number(c->Get(id)))) in.push_back(id);
      return true;
    });
    *out = bitmap::Bitmap::Of(in);
    return true;
  }

  static bool Predicate(const Node& n, const Value& v) {
    switch (n.kind) {
      case Expr::Kind::kCompare:
        return MatchCompare(v, n.op, n.values[0]);
      case Expr::Kind::kBetween:
        return MatchBetween(v, n.values[0], n.values[1], n.negated);
      case Expr::Kind::kIn:
        return MatchIn(v, n.values, n.negated);
      default:
        return false;
    }
  }

  bitmap::Bitmap Select(const Node& n, const bitmap::Bitmap& candidates, TimeMs as_of, RefResolver* refs) const {
    {
      bitmap::BitmapFormula f;
      if (Formula(n, refs, &f)) return ByFormula(f, candidates);
    }
    switch (n.kind) {
      case Expr::Kind::kAnd: {
        // The parts that are bitmaps first, in one pass; then the rest, each
        // on what is left.
        std::vector<bitmap::BitmapFormula> parts;
        std::vector<const Node*> rest;
        for (const Node& c : n.children) {
          bitmap::BitmapFormula one;
          if (Formula(c, refs, &one)) {
            parts.push_back(std::move(one));
          } else {
            rest.push_back(&c);
          }
        }
        bitmap::BitmapFormula f;
        Conjunction(parts, &f);
        bitmap::Bitmap left = parts.empty() ? candidates : ByFormula(f, candidates);
        for (const Node* c : rest) {
          if (left.Empty()) break;
          left = Select(*c, left, as_of, refs);
        }
        return left;
      }
      case Expr::Kind::kOr: {
        bitmap::Bitmap rest = candidates;
        bitmap::Bitmap out;
        for (const Node& c : n.children) {
          if (rest.Empty()) break;
          bitmap::Bitmap m = Select(c, rest, as_of, refs);
          rest -= m;
          out |= m;
        }
        return out;
      }
      case Expr::Kind::kNot:
        return candidates - Select(n.children[0], candidates, as_of, refs);
      case Expr::Kind::kTagRef:
      case Expr::Kind::kSegmentRef:
        if (!refs) return bitmap::Bitmap();
        return refs->Members(n.ref, as_of, candidates);
      default: {
        bitmap::Bitmap scanned;
        if (ScanColumn(n, candidates, refs, &scanned)) return scanned;
        std::vector<PersonId> out;
        candidates.ForEach([&](PersonId id) {
          if (Matches(n, id, as_of, refs, nullptr)) out.push_back(id);
          return true;
        });
        return bitmap::Bitmap::Of(out);
      }
    }
  }
};

CompiledExpr::CompiledExpr() = default;
CompiledExpr::~CompiledExpr() = default;
CompiledExpr::CompiledExpr(CompiledExpr&&) noexcept = default;
CompiledExpr& CompiledExpr::operator=(CompiledExpr&&) noexcept = default;

bitmap::Bitmap CompiledExpr::Select(const bitmap::Bitmap& candidates, TimeMs as_of, RefResolver* refs) const {
  const bitmap::Bitmap& live = impl_->table->live();
  if (&candidates == &live) return impl_->Select(impl_->root, live, as_of, refs);
  return impl_->Select(impl_->root, candidates & live, as_of, refs);
}

uint64_t CompiledExpr::Count(const bitmap::Bitmap& candidates, TimeMs as_of, RefResolver* refs) const {
  const bitmap::Bitmap& live = impl_->table->live();
  bitmap::BitmapFormula f;
  if (&candidates == &live && impl_->Formula(impl_->root, refs, &f)) {
    absl::StatusOr<uint64_t> n = bitmap::CountFormula(f, live);
    if (n.ok()) return *n;
  }
  return Select(candidates, as_of, refs).Cardinality();
}

bool CompiledExpr::Matches(PersonId person, TimeMs as_of, RefResolver* refs, TimeMs* next_change,
                           const std::vector<NumericIndex*>* aggregates) const {
  return impl_->Matches(impl_->root, person, as_of, refs, next_change, aggregates);
}

bool CompiledExpr::Matches(const PersonTable::Person& row, PersonId person, TimeMs as_of, RefResolver* refs,
                           TimeMs* next_change, const std::vector<NumericIndex*>* aggregates) const {
  PersonEval eval(*impl_->table, row, person, as_of, refs, impl_->options.utc_offset_ms, next_change, aggregates);
  return eval.Eval(impl_->root);
}

void CompiledExpr::BindLive(const std::vector<NumericIndex*>& columns) {
  impl_->live = internal::LiveProgram(impl_->root, *impl_->table, columns);
}

bool CompiledExpr::MatchesLive(const PersonTable::Person& row, PersonId person, TimeMs as_of, RefResolver* refs,
                               TimeMs* next_change) const {
  return impl_->live.Matches(row, person, as_of, refs, impl_->options.utc_offset_ms, next_change);
}

bool CompiledExpr::time_dependent() const { return impl_->flags.time; }
bool CompiledExpr::uses_events() const { return impl_->flags.events; }
bool CompiledExpr::uses_traits() const { return impl_->flags.traits; }
const std::vector<uint32_t>& CompiledExpr::event_names() const { return impl_->flags.event_names; }
bool CompiledExpr::any_event() const { return impl_->flags.any_event; }
bool CompiledExpr::events_only_through_aggregates() const { return !impl_->flags.events_outside_aggregates; }
const std::vector<uint32_t>& CompiledExpr::trait_keys() const { return impl_->flags.trait_keys; }
const std::vector<uint32_t>& CompiledExpr::refs() const { return impl_->flags.refs; }
size_t CompiledExpr::aggregate_count() const { return impl_->flags.aggregates.size(); }
const std::string& CompiledExpr::aggregate_key(size_t i) const { return impl_->flags.aggregates[i]; }

std::optional<double> CompiledExpr::AggregateValue(size_t i, const PersonTable::Person& row, PersonId person,
                                                   TimeMs as_of, TimeMs* next_change) const {
  PersonEval eval(*impl_->table, row, person, as_of, nullptr, impl_->options.utc_offset_ms, next_change);
  Value v = eval.OperandValue(*impl_->flags.aggregate_nodes[i]);
  if (v.kind != Value::Kind::kNumber) return std::nullopt;
  return v.number;
}

absl::StatusOr<CompiledExpr> Compile(const Expr& e, PersonTable& table, const RefLookup& refs, EvalOptions options) {
  auto impl = std::make_unique<CompiledExpr::Impl>();
  Names names{table, options.intern};
  ASSIGN_OR_RETURN(impl->root, CompileNode(e, names, refs, &impl->flags));
  impl->options = options;
  impl->table = &table;
  impl->flags.aggregate_nodes.assign(impl->flags.aggregates.size(), nullptr);
  impl->CollectAggregates(impl->root);
  CompiledExpr c;
  c.impl_ = std::move(impl);
  return c;
}

}  // namespace facet::segments
