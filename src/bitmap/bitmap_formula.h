// BitmapFormula: a boolean formula over Bitmaps that is counted or
// materialised in one fused pass per 65,536-id chunk, rather than one pass
// (and one intermediate Bitmap) per operator; meant for audience counts.
//
//   // vip & women & ~churned, among live persons
//   BitmapFormula f;
//   f.Push(vip).Push(women).And().Push(churned).AndNot();
//   ASSIGN_OR_RETURN(uint64_t n, CountFormula(f, live));
//   ASSIGN_OR_RETURN(Bitmap audience, EvaluateFormula(f, live));
//
// The result of a formula is always restricted to `universe`, and kNot is the
// complement within `universe`. Cost: chunks that `universe` lacks, and
// operands absent from or full in a chunk, cost nothing; otherwise a chunk
// takes a pass over its 1024-word bitset form. Bitset chunks are read in
// place; array and run chunks are expanded on every call, at a cost that
// grows with their number of values or runs.
//
// Thread-safety: evaluation only reads the operands and the universe, so any
// number of evaluations may run concurrently while nobody mutates them.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bitmap/bitmap.h"

namespace facet::bitmap {

// A postfix program. kPush pushes operands[arg]; kAnd, kOr and kAndNot pop b,
// then a, and push a & b, a | b and a & ~b; kNot replaces the top with its
// complement within the universe. A well-formed program never pops an empty
// stack and leaves exactly one value.
struct BitmapFormula {
  enum class Op : uint8_t { kPush, kAnd, kOr, kAndNot, kNot };
  struct Instr {
    Op op;
    uint32_t arg = 0;
  };

  std::vector<Instr> code;
  // Not owned; each must outlive every evaluation of the formula.
  std::vector<const Bitmap*> operands;

  // Builders: Push appends `b` to `operands` and pushes it; the others append
  // the instruction of the same name.
  BitmapFormula& Push(const Bitmap& b);
  BitmapFormula& And();
  BitmapFormula& Or();
  BitmapFormula& AndNot();
  BitmapFormula& Not();
};

// Returns InvalidArgument naming the first fault if `f` is malformed: a null
// operand, a kPush of a missing operand, a pop from an empty stack, an unknown
// op, or other than one value left at the end.
absl::Status ValidateFormula(const BitmapFormula& f);

// The number of members of `universe` that satisfy `f`; InvalidArgument if
// `f` is malformed.
absl::StatusOr<uint64_t> CountFormula(const BitmapFormula& f, const Bitmap& universe);

// The members of `universe` that satisfy `f`; InvalidArgument if `f` is
// malformed. Chunks come out as arrays or bitsets: call Optimize() on the
// result before keeping it if runs are likely.
absl::StatusOr<Bitmap> EvaluateFormula(const BitmapFormula& f, const Bitmap& universe);

// Test-only: the same evaluations forced onto the portable kernels that
// machines without AVX2 run.
absl::StatusOr<uint64_t> CountFormulaPortableForTest(const BitmapFormula& f, const Bitmap& universe);
absl::StatusOr<Bitmap> EvaluateFormulaPortableForTest(const BitmapFormula& f, const Bitmap& universe);

}  // namespace facet::bitmap
