#include "segments/internal/live_program.h"

#include <cmath>
#include <limits>
#include <variant>

#include "segments/internal/person_eval.h"

namespace facet::segments::internal {

LiveProgram::LiveProgram(const Node& root, const PersonTable& table, const std::vector<NumericIndex*>& columns)
    : table_(&table), columns_(columns) {
  Flatten(root);
}

void LiveProgram::Flatten(const Node& n) {
  const uint32_t at = static_cast<uint32_t>(steps_.size());
  steps_.emplace_back();
  Step s;
  switch (n.kind) {
    case Expr::Kind::kAnd:
    case Expr::Kind::kOr:
    case Expr::Kind::kNot:
      s.op = n.kind == Expr::Kind::kAnd ? Op::kAnd : n.kind == Expr::Kind::kOr ? Op::kOr : Op::kNot;
      for (const Node& c : n.children) Flatten(c);
      break;
    default:
      if (!NumericStep(n, &s) && !StringStep(n, &s)) {
        s = Step{};
        s.op = Op::kGeneral;
        s.node = &n;
      }
  }
  s.end = static_cast<uint32_t>(steps_.size());
  steps_[at] = s;
}

bool LiveProgram::NumericStep(const Node& n, Step* s) {
  const bool aggregate =
      n.operand == Operand::Kind::kAggregate && n.aggregate >= 0 && static_cast<size_t>(n.aggregate) < columns_.size();
  const bool trait = n.operand == Operand::Kind::kTrait;
  if (!aggregate && !trait) return false;
  for (const Literal& l : n.values) {
    if (!std::holds_alternative<double>(l)) return false;
  }
  auto number = [&](size_t i) { return std::get<double>(n.values[i]); };
  switch (n.kind) {
    case Expr::Kind::kCompare:
      switch (n.op) {
        case CompareOp::kLt:
          s->op = Op::kLt;
          break;
        case CompareOp::kLe:
          s->op = Op::kLe;
          break;
        case CompareOp::kGt:
          s->op = Op::kGt;
          break;
        case CompareOp::kGe:
          s->op = Op::kGe;
          break;
        case CompareOp::kEq:
          s->op = Op::kEq;
          break;
        case CompareOp::kNe:
          // A trait holding a string is != every number; its column has no
          // number for it.
          if (!aggregate) return false;
          s->op = Op::kNe;
          break;
        default:
          return false;
      }
      s->a = number(0);
      break;
    case Expr::Kind::kBetween:
      s->op = n.negated ? Op::kNotBetween : Op::kBetween;
      s->a = number(0);
      s->b = number(1);
      break;
    case Expr::Kind::kIn:
      if (n.negated && !aggregate) return false;  // as kNe
      s->op = n.negated ? Op::kNotIn : Op::kIn;
      s->list_begin = static_cast<uint32_t>(lists_.size());
      s->list_size = static_cast<uint32_t>(n.values.size());
      for (size_t i = 0; i < n.values.size(); ++i) lists_.push_back(number(i));
      break;
    case Expr::Kind::kIsNull:
      // A trait holding a string is not null but has no number.
      if (!aggregate) return false;
      s->op = n.negated ? Op::kIsNotNull : Op::kIsNull;
      break;
    default:
      return false;
  }
  if (aggregate) {
    s->column = columns_[static_cast<size_t>(n.aggregate)];
  } else {
    s->key = n.key;
    s->column = table_->NumericTrait(n.key);
  }
  return true;
}

bool LiveProgram::StringStep(const Node& n, Step* s) {
  if (n.operand != Operand::Kind::kTrait || n.values.empty()) return false;
  if (!(n.kind == Expr::Kind::kCompare && n.op == CompareOp::kEq) && !(n.kind == Expr::Kind::kIn && !n.negated)) {
    return false;
  }
  for (const Literal& l : n.values) {
    if (!std::holds_alternative<std::string>(l)) return false;
  }
  *s = Step{};
  s->op = Op::kStringIn;
  s->key = n.key;
  s->strings = table_->StringTrait(n.key);
  s->node = &n;
  s->list_begin = static_cast<uint32_t>(ids_.size());
  s->list_size = static_cast<uint32_t>(n.values.size());
  for (const Literal& l : n.values) ids_.push_back(table_->strings().Find(std::get<std::string>(l)));
  return true;
}

bool LiveProgram::TestString(const Step& s, PersonId id) const {
  const StringIndex* column = s.strings ? s.strings : table_->StringTrait(s.key);
  const uint32_t v = column ? column->Get(id) : StringIndex::kNone;
  if (v == StringIndex::kNone) return false;  // no string there
  for (uint32_t k = 0; k < s.list_size; ++k) {
    const uint32_t want = ids_[s.list_begin + k];
    if (want == v) return true;
    // Interned after the program was built: compare the text.
    if (want == StringPool::kNone && table_->strings().Get(v) == std::get<std::string>(s.node->values[k])) {
      return true;
    }
  }
  return false;
}

bool LiveProgram::Matches(const Person& row, PersonId id, TimeMs as_of, RefResolver* refs, TimeMs utc_offset,
                          TimeMs* next) const {
  if (steps_.empty()) return false;
  return Eval(0, Context{row, id, as_of, refs, utc_offset, next});
}

bool LiveProgram::Eval(uint32_t i, const Context& c) const {
  const Step& s = steps_[i];
  switch (s.op) {
    case Op::kAnd:
      for (uint32_t j = i + 1; j < s.end; j = steps_[j].end) {
        if (!Eval(j, c)) return false;
      }
      return true;
    case Op::kOr:
      for (uint32_t j = i + 1; j < s.end; j = steps_[j].end) {
        if (Eval(j, c)) return true;
      }
      return false;
    case Op::kNot:
      return !Eval(i + 1, c);
    case Op::kStringIn:
      return TestString(s, c.id);
    case Op::kGeneral: {
      PersonEval eval(*table_, c.row, c.id, c.as_of, c.refs, c.utc_offset, c.next, &columns_);
      return eval.Eval(*s.node);
    }
    default: {
      const NumericIndex* column = s.column ? s.column : table_->NumericTrait(s.key);
      return Test(s, column ? column->Get(c.id) : std::numeric_limits<double>::quiet_NaN());
    }
  }
}

bool LiveProgram::Test(const Step& s, double v) const {
  // NaN: NULL, or (traits) not a number; every comparison with it is false.
  if (s.op == Op::kIsNull) return std::isnan(v);
  if (s.op == Op::kIsNotNull) return !std::isnan(v);
  if (std::isnan(v)) return false;
  switch (s.op) {
    case Op::kLt:
      return v < s.a;
    case Op::kLe:
      return v <= s.a;
    case Op::kGt:
      return v > s.a;
    case Op::kGe:
      return v >= s.a;
    case Op::kEq:
      return v == s.a;
    case Op::kNe:
      return v != s.a;
    case Op::kBetween:
      return v >= s.a && v <= s.b;
    case Op::kNotBetween:
      return !(v >= s.a && v <= s.b);
    case Op::kIn:
    case Op::kNotIn: {
      bool found = false;
      for (uint32_t k = 0; k < s.list_size && !found; ++k) found = lists_[s.list_begin + k] == v;
      return found != (s.op == Op::kNotIn);
    }
    default:
      return false;
  }
}

}  // namespace facet::segments::internal
