// The compiled form of a segment expression: a tree of Nodes with names and
// paths interned, shared by the compiler, the per-person evaluator
// (PersonEval) and the bitmap planner in evaluator.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "segments/ast.h"
#include "segments/person_table.h"
#include "segments/value.h"

namespace facet::segments::internal {

inline constexpr TimeMs kDayMs = 86400000;
inline constexpr TimeMs kHourMs = 3600000;
inline constexpr uint32_t kAnyEvent = StringPool::kNone - 1;
inline constexpr double kEarthRadiusM = 6371008.8;

using EventRow = PersonTable::EventRow;
using Person = PersonTable::Person;

// Rank of a node's cost in a conjunction: cheapest first.
enum Cost : int { kRefCost = 0, kTraitCost = 1, kEventCost = 2 };

struct Node;

// An event filter: name (or any track event) and an optional WHERE.
struct EventFilter {
  uint32_t name = kAnyEvent;
  std::unique_ptr<Node> where;
};

struct Node {
  Expr::Kind kind = Expr::Kind::kAnd;
  std::vector<Node> children;
  bool negated = false;
  CompareOp op = CompareOp::kEq;
  std::vector<Literal> values;

  // Operand.
  Operand::Kind operand = Operand::Kind::kTrait;
  uint32_t key = 0;  // trait path, "properties.<path>" or "context.<path>"
  AggregateFn fn = AggregateFn::kCount;
  EventFilter filter;
  uint32_t value_key = 0;  // sum/avg/min/max: "properties.<path>"
  int aggregate = -1;      // index into Flags::aggregates (aggregate operands)
  Operand source;          // aggregate operands: as written, for rewrites
  TimeMs window_ms = 0;
  int from_hour = 0, to_hour = 0;

  uint32_t ref = 0;
  double latitude = 0, longitude = 0, radius_m = 0;
  EventFilter steps[2];
  TimeMs gap_ms = 0;

  int cost = kTraitCost;
};

}  // namespace facet::segments::internal
