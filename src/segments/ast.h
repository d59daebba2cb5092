// The syntax tree of the segment language (docs/segment-language.md): one
// language for rule tags and audiences. Parse() (parser.h) builds it;
// the engine compiles it into a plan.
//
// Every Expr selects a set of persons. Comparisons take an Operand on the
// left (a trait, an aggregate over the person's events, ...) and literals on
// the right.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "base/types.h"

namespace facet::segments {

// Where a node starts in the source text, 1-based.
struct SourcePos {
  int line = 1;
  int column = 1;
};

// A literal: number, string or boolean.
using Literal = std::variant<double, std::string, bool>;

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

enum class AggregateFn : uint8_t {
  kCount,           // count("E" [WHERE c] [, window])               -> number (0 when none)
  kSum,             // sum("E" [WHERE c], properties.p [, window])   -> number (0 when none)
  kAvg,             // avg(...)  same arguments as sum               -> number or NULL
  kMin,             // min(...)                                      -> number or NULL
  kMax,             // max(...)                                      -> number or NULL
  kDaysSinceLast,   // days_since_last("E" [WHERE c] [, window])     -> whole days or NULL
  kDaysSinceFirst,  // days_since_first("E" [WHERE c] [, window])    -> whole days or NULL
  // hour_share("E" [WHERE c], from_hour, to_hour [, window]): share (0..1) of
  // the events whose local hour h is in [from, to) (wrapping past midnight
  // when from > to); NULL when there are no events.
  kHourShare,
};

struct Expr;

// What a comparison looks at.
struct Operand {
  enum class Kind : uint8_t {
    kTrait,       // trait.a.b           path = {"a", "b"}
    kProperty,    // properties.a.b      (inside WHERE only) path = {"a", "b"}
    kAggregate,   // count/sum/avg/min/max/days_since_*/hour_share
    kFirstTouch,  // first_touch.<field> path = {field}: context.<field> of the earliest event having it
    kLastTouch,   // last_touch.<field>  likewise, latest event
  };
  Kind kind = Kind::kTrait;
  SourcePos pos;
  std::vector<std::string> path;

  // kAggregate only.
  AggregateFn fn = AggregateFn::kCount;
  std::string event;                    // event name ("Order Completed"); "*" = any track event
  std::shared_ptr<const Expr> where;    // condition on each event, or null
  std::vector<std::string> value_path;  // sum/avg/min/max: properties path of the value
  TimeMs window_ms = 0;                 // 0 = all events up to as_of
  int from_hour = 0, to_hour = 0;       // hour_share only
};

struct Expr {
  enum class Kind : uint8_t {
    kAnd,         // children: 2+
    kOr,          // children: 2+
    kNot,         // children: 1
    kCompare,     // operand op values[0]
    kBetween,     // values[0] <= operand <= values[1]; negated: NOT BETWEEN
    kIn,          // operand IN (values...); negated: NOT IN
    kIsNull,      // operand IS NULL; negated: IS NOT NULL
    kContains,    // operand CONTAINS values[0]; negated: NOT CONTAINS
    kTagRef,      // tag("name")      name
    kSegmentRef,  // segment("name")  name
    kWithin,      // within(lat, lon, radius): last known location within radius_m
    // sequence("A" [WHERE c], "B" [WHERE c], within [, window]): an A event
    // followed by a B event at most `gap_ms` later (B at or after A).
    kSequence,
  };
  Kind kind = Kind::kAnd;
  SourcePos pos;
  std::vector<Expr> children;

  Operand operand;                // kCompare kBetween kIn kIsNull kContains
  CompareOp op = CompareOp::kEq;  // kCompare
  bool negated = false;           // kBetween kIn kIsNull kContains
  std::vector<Literal> values;

  std::string name;  // kTagRef kSegmentRef

  double latitude = 0, longitude = 0, radius_m = 0;  // kWithin

  // kSequence: steps[0] then steps[1]; each an Operand of kind kAggregate
  // (fn kCount) carrying the event name and WHERE.
  std::vector<Operand> steps;
  TimeMs gap_ms = 0;
  TimeMs window_ms = 0;  // kSequence: both events within this window (0: all)
};

// Canonical text of `e` (keywords upper case, strings quoted, numbers in
// shortest form); Parse(ToString(e)) gives an equal tree.
std::string ToString(const Expr& e);

// Names referenced by tag() and segment() anywhere in `e` (with duplicates).
void CollectRefs(const Expr& e, std::vector<std::string>* tags, std::vector<std::string>* segments);

}  // namespace facet::segments
