// Definition: one tag or segment as the catalog holds it in memory: what
// was defined, its compiled rule, its live members, and its binding to the
// live aggregate columns. Owned by DefinitionGraph; Membership and
// LiveAggregates update the parts they keep. Thread-safety: none (the
// catalog's single writer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bitmap/bitmap.h"
#include "segments/catalog.h"
#include "segments/evaluator.h"
#include "segments/numeric_index.h"

namespace facet::segments::internal {

struct Definition {
  uint32_t id = 0;
  uint32_t slot = 0;  // its membership bit in Membership's rows
  bool is_segment = false;
  TagDef tag;
  SegmentDef segment;
  std::optional<CompiledExpr> expr;  // rule tags and segments
  bitmap::Bitmap members;            // live persons (roots)
  bitmap::Bitmap manual_atoms;       // manual/model tags: the persons labelled, as atoms
  // Kept by LiveAggregates: the live columns of expr's aggregates (bound on
  // first use) and each column's mark.
  std::vector<NumericIndex*> columns;
  std::vector<uint32_t> column_marks;
  bool columns_bound = false;

  const std::string& name() const { return is_segment ? segment.name : tag.name; }
};

}  // namespace facet::segments::internal
