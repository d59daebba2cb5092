// LiveProgram: a compiled expression flattened for the catalog's per-event
// upkeep, where one person is checked against hundreds of definitions whose
// aggregates have just been computed into live columns.
//
// Numeric comparisons of a live aggregate or a numeric trait read the
// column's number directly, and a string trait's equality and IN its
// column's interned id (no Value, no trait search); AND/OR/NOT walk a
// contiguous array. Everything else (string order, references, location,
// sequences, first/last touch) is evaluated by PersonEval, so the answers are
// Matches()'s. Private to evaluator.cc.
#pragma once

#include <cstdint>
#include <vector>

#include "segments/evaluator.h"
#include "segments/internal/compiled_node.h"
#include "segments/numeric_index.h"
#include "segments/string_index.h"

namespace facet::segments::internal {

class LiveProgram {
 public:
  LiveProgram() = default;
  // Flattens `root`; aggregate operand i reads columns[i]. `table`, the
  // nodes and the columns must outlive the program.
  LiveProgram(const Node& root, const PersonTable& table, const std::vector<NumericIndex*>& columns);

  // What PersonEval(table, row, id, as_of, refs, utc_offset, next,
  // &columns).Eval(root) answers.
  bool Matches(const Person& row, PersonId id, TimeMs as_of, RefResolver* refs, TimeMs utc_offset, TimeMs* next) const;

 private:
  enum class Op : uint8_t {
    kAnd,
    kOr,
    kNot,
    kLt,
    kLe,
    kGt,
    kGe,
    kEq,
    kNe,
    kBetween,
    kNotBetween,
    kIn,
    kNotIn,
    kIsNull,
    kIsNotNull,
    kStringIn,  // a string trait equal to one of the literals
    kGeneral,
  };
  struct Step {
    Op op = Op::kGeneral;
    uint32_t end = 0;  // index after this step's subtree
    // Numeric tests: the column read (null for a numeric trait no person
    // has had yet: looked up by `key` until it exists), the bounds, the IN
    // list in lists_.
    const NumericIndex* column = nullptr;
    uint32_t key = 0;
    double a = 0, b = 0;
    uint32_t list_begin = 0, list_size = 0;
    // kStringIn: the column (null until a person has a string there, then
    // looked up by `key`) and the literals (in node->values) as interned
    // ids in ids_, kNone for one not interned when the program was built.
    const StringIndex* strings = nullptr;
    const Node* node = nullptr;  // kGeneral, kStringIn
  };
  struct Context {
    const Person& row;
    PersonId id;
    TimeMs as_of;
    RefResolver* refs;
    TimeMs utc_offset;
    TimeMs* next;
  };

  void Flatten(const Node& n);
  // The step testing n's number, or false when n is not such a test.
  bool NumericStep(const Node& n, Step* s);
  // The step testing n's string for equality, or false.
  bool StringStep(const Node& n, Step* s);
  bool TestString(const Step& s, PersonId id) const;
  bool Eval(uint32_t i, const Context& c) const;
  bool Test(const Step& s, double v) const;

  const PersonTable* table_ = nullptr;
  std::vector<NumericIndex*> columns_;
  std::vector<Step> steps_;
  std::vector<double> lists_;
  std::vector<uint32_t> ids_;
};

}  // namespace facet::segments::internal
