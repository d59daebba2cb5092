// PersonEval: a compiled expression evaluated for one person at one
// instant, reading the person's row of the PersonTable (and, when given,
// live aggregate columns); it lowers *next to the earliest instant the
// answer may change with no new event. Private to evaluator.cc.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "segments/evaluator.h"
#include "segments/internal/compiled_node.h"
#include "segments/numeric_index.h"

namespace facet::segments::internal {

// Evaluation for one person.
class PersonEval {
 public:
  PersonEval(const PersonTable& table, const Person& p, PersonId id, TimeMs as_of, RefResolver* refs, TimeMs utc_offset,
             TimeMs* next, const std::vector<NumericIndex*>* known = nullptr)
      : table_(table),
        p_(p),
        id_(id),
        as_of_(as_of),
        refs_(refs),
        utc_offset_(utc_offset),
        next_(next),
        known_(known) {}

  bool Eval(const Node& n) {
    switch (n.kind) {
      case Expr::Kind::kAnd:
        for (const Node& c : n.children) {
          if (!Eval(c)) return false;
        }
        return true;
      case Expr::Kind::kOr:
        for (const Node& c : n.children) {
          if (Eval(c)) return true;
        }
        return false;
      case Expr::Kind::kNot:
        return !Eval(n.children[0]);
      case Expr::Kind::kTagRef:
      case Expr::Kind::kSegmentRef: {
        TimeMs next = CompiledExpr::kNever;
        bool in = refs_ && refs_->Contains(n.ref, id_, as_of_, &next);
        Lower(next);
        return in;
      }
      case Expr::Kind::kWithin: {
        if (std::isnan(p_.latitude) || std::isnan(p_.longitude)) return false;
        return Distance(p_.latitude, p_.longitude, n.latitude, n.longitude) <= n.radius_m;
      }
      case Expr::Kind::kSequence:
        return Sequence(n);
      default:
        return Predicate(n, OperandValue(n));
    }
  }

  Value OperandValue(const Node& n) {
    switch (n.operand) {
      case Operand::Kind::kTrait:
        return table_.Trait(p_, n.key);
      case Operand::Kind::kProperty:
        return Value{};  // only inside WHERE
      case Operand::Kind::kFirstTouch:
      case Operand::Kind::kLastTouch:
        return Touch(n);
      case Operand::Kind::kAggregate: {
        if (known_ && n.aggregate >= 0) {
          double v = (*known_)[static_cast<size_t>(n.aggregate)]->Get(id_);
          return std::isnan(v) ? Value{} : Value::Number(v);
        }
        return Aggregate(n);
      }
    }
    return Value{};
  }

 private:
  static double Distance(double lat1, double lon1, double lat2, double lon2) {
    constexpr double kRad = std::numbers::pi / 180.0;
    double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
    double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
               std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(a)));
  }

  void Lower(TimeMs t) {
    if (next_ && t < *next_) *next_ = t;
  }

  static bool Predicate(const Node& n, const Value& v) {
    switch (n.kind) {
      case Expr::Kind::kCompare:
        return MatchCompare(v, n.op, n.values[0]);
      case Expr::Kind::kBetween:
        return MatchBetween(v, n.values[0], n.values[1], n.negated);
      case Expr::Kind::kIn:
        return MatchIn(v, n.values, n.negated);
      case Expr::Kind::kIsNull:
        return v.is_null() != n.negated;
      case Expr::Kind::kContains:
        return MatchContains(v, n.values[0], n.negated);
      default:
        return false;
    }
  }

  // A WHERE condition on one event.
  bool EventMatches(const Node& n, const EventRow& e) const {
    switch (n.kind) {
      case Expr::Kind::kAnd:
        for (const Node& c : n.children) {
          if (!EventMatches(c, e)) return false;
        }
        return true;
      case Expr::Kind::kOr:
        for (const Node& c : n.children) {
          if (EventMatches(c, e)) return true;
        }
        return false;
      case Expr::Kind::kNot:
        return !EventMatches(n.children[0], e);
      default:
        return Predicate(n, table_.EventField(p_, e, n.key));
    }
  }

  bool FilterMatches(const EventFilter& f, const EventRow& e) const {
    if (e.kind != PersonTable::EventKind::kTrack) return false;
    if (f.name != kAnyEvent && e.name != f.name) return false;
    return !f.where || EventMatches(*f.where, e);
  }

  // Events with time in (as_of - window, as_of] (all up to as_of without a
  // window). Records when the first of them leaves the window and when the
  // first later event arrives.
  std::pair<const EventRow*, const EventRow*> Range(TimeMs window_ms) {
    const EventRow* begin = p_.events.data();
    const EventRow* end = begin + p_.events.size();
    const EventRow* hi = std::upper_bound(begin, end, as_of_, [](TimeMs t, const EventRow& e) { return t < e.time; });
    if (hi != end) Lower(hi->time);  // an event dated later enters then
    const EventRow* lo = begin;
    if (window_ms > 0) {
      TimeMs start = as_of_ - window_ms;  // exclusive
      lo = std::upper_bound(begin, hi, start, [](TimeMs t, const EventRow& e) { return t < e.time; });
    }
    return {lo, hi};
  }

  Value Touch(const Node& n) {
    auto [lo, hi] = Range(0);
    if (n.operand == Operand::Kind::kFirstTouch) {
      for (const EventRow* e = lo; e != hi; ++e) {
        Value v = table_.EventField(p_, *e, n.key);
        if (!v.is_null()) return v;
      }
    } else {
      for (const EventRow* e = hi; e != lo; --e) {
        Value v = table_.EventField(p_, e[-1], n.key);
        if (!v.is_null()) return v;
      }
    }
    return Value{};
  }

  Value Aggregate(const Node& n) {
    auto [lo, hi] = Range(n.window_ms);
    const EventFilter& f = n.filter;
    switch (n.fn) {
      case AggregateFn::kCount: {
        uint64_t count = 0;
        const EventRow* first = nullptr;
        for (const EventRow* e = lo; e != hi; ++e) {
          if (FilterMatches(f, *e)) {
            if (!first) first = e;
            ++count;
          }
        }
        if (first && n.window_ms > 0) Lower(first->time + n.window_ms);
        return Value::Number(static_cast<double>(count));
      }
      case AggregateFn::kSum:
      case AggregateFn::kAvg:
      case AggregateFn::kMin:
      case AggregateFn::kMax: {
        double sum = 0, min = 0, max = 0;
        uint64_t count = 0;
        const EventRow* first = nullptr;
        for (const EventRow* e = lo; e != hi; ++e) {
          if (!FilterMatches(f, *e)) continue;
          Value v = table_.EventField(p_, *e, n.value_key);
          if (v.kind != Value::Kind::kNumber) continue;
          if (!first) first = e;
          if (count == 0 || v.number < min) min = v.number;
          if (count == 0 || v.number > max) max = v.number;
          sum += v.number;
          ++count;
        }
        if (first && n.window_ms > 0) Lower(first->time + n.window_ms);
        if (n.fn == AggregateFn::kSum) return Value::Number(sum);
        if (count == 0) return Value{};
        if (n.fn == AggregateFn::kAvg) return Value::Number(sum / static_cast<double>(count));
        return Value::Number(n.fn == AggregateFn::kMin ? min : max);
      }
      case AggregateFn::kDaysSinceLast:
      case AggregateFn::kDaysSinceFirst: {
        const EventRow* found = nullptr;
        const EventRow* first = nullptr;
        for (const EventRow* e = lo; e != hi; ++e) {
          if (!FilterMatches(f, *e)) continue;
          if (!first) first = e;
          if (n.fn == AggregateFn::kDaysSinceFirst) {
            found = e;
            break;
          }
          found = e;
        }
        if (first && n.window_ms > 0) Lower(first->time + n.window_ms);
        if (!found) return Value{};
        TimeMs days = (as_of_ - found->time) / kDayMs;
        Lower(found->time + (days + 1) * kDayMs);
        return Value::Number(static_cast<double>(days));
      }
      case AggregateFn::kHourShare: {
        uint64_t count = 0, inside = 0;
        const EventRow* first = nullptr;
        for (const EventRow* e = lo; e != hi; ++e) {
          if (!FilterMatches(f, *e)) continue;
          if (!first) first = e;
          ++count;
          TimeMs local = e->time + utc_offset_;
          int hour = static_cast<int>(((local % kDayMs) + kDayMs) % kDayMs / kHourMs);
          bool in = n.from_hour < n.to_hour ? (hour >= n.from_hour && hour < n.to_hour)
                                            : (hour >= n.from_hour || hour < n.to_hour);
          if (in) ++inside;
        }
        if (first && n.window_ms > 0) Lower(first->time + n.window_ms);
        if (count == 0) return Value{};
        return Value::Number(static_cast<double>(inside) / static_cast<double>(count));
      }
    }
    return Value{};
  }

  bool Sequence(const Node& n) {
    auto [lo, hi] = Range(n.window_ms);
    // For each B, is there an A (another event) at most gap earlier? Track
    // the latest A seen so far; B at the same time as A counts.
    const EventRow* latest_a = nullptr;
    const EventRow* first = nullptr;
    bool found = false;
    for (const EventRow* e = lo; e != hi && !found; ++e) {
      bool is_b = FilterMatches(n.steps[1], *e);
      if (is_b && !first) first = e;
      if (is_b && latest_a && e->time - latest_a->time <= n.gap_ms) found = true;
      // An A at the same instant later in order also precedes a B with equal time.
      if (is_b && !found) {
        for (const EventRow* g = e + 1; g != hi && g->time == e->time; ++g) {
          if (FilterMatches(n.steps[0], *g)) {
            found = true;
            break;
          }
        }
      }
      if (FilterMatches(n.steps[0], *e)) {
        latest_a = e;
        if (!first) first = e;
      }
    }
    if (first && n.window_ms > 0) Lower(first->time + n.window_ms);
    return found;
  }

  const PersonTable& table_;
  const Person& p_;
  PersonId id_;
  TimeMs as_of_;
  RefResolver* refs_;
  TimeMs utc_offset_;
  TimeMs* next_;
  const std::vector<NumericIndex*>* known_;  // aggregate values already computed, by index
};

}  // namespace facet::segments::internal
