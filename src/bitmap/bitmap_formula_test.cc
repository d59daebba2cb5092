#include "bitmap/bitmap_formula.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace facet::bitmap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Op = BitmapFormula::Op;

constexpr uint32_t kChunk = 65536;

// The formula computed with Bitmap operators: kNot is `universe - x` and the
// result is intersected with `universe`.
Bitmap Reference(const BitmapFormula& f, const Bitmap& universe) {
  std::vector<Bitmap> stack;
  for (const BitmapFormula::Instr& in : f.code) {
    if (in.op == Op::kPush) {
      stack.push_back(*f.operands[in.arg]);
      continue;
    }
    if (in.op == Op::kNot) {
      stack.back() = universe - stack.back();
      continue;
    }
    Bitmap b = std::move(stack.back());
    stack.pop_back();
    Bitmap& a = stack.back();
    if (in.op == Op::kAnd) a &= b;
    if (in.op == Op::kOr) a |= b;
    if (in.op == Op::kAndNot) a -= b;
  }
  return universe & stack.back();
}

// Each chunk below `chunks` is, at random: absent, a sparse array, a dense
// bitset, a few runs, full, or a mix; sometimes run-optimised afterwards.
Bitmap RandomOperand(std::mt19937& rng, uint32_t chunks) {
  std::uniform_int_distribution<int> style(0, 5);
  std::uniform_int_distribution<uint32_t> offset(0, kChunk - 1);
  Bitmap b;
  for (uint32_t c = 0; c < chunks; ++c) {
    const uint32_t base = c * kChunk;
    switch (style(rng)) {
      case 0:
        break;
      case 1: {
        const int n = std::uniform_int_distribution<int>(1, 4000)(rng);
        for (int i = 0; i < n; ++i) b.Add(base + offset(rng));
        break;
      }
      case 2: {
        std::bernoulli_distribution keep(std::uniform_real_distribution<double>(0.2, 0.95)(rng));
        for (uint32_t i = 0; i < kChunk; ++i) {
          if (keep(rng)) b.Add(base + i);
        }
        break;
      }
      case 3: {
        const int runs = std::uniform_int_distribution<int>(1, 20)(rng);
        for (int i = 0; i < runs; ++i) {
          const uint32_t start = offset(rng);
          const uint32_t length = std::uniform_int_distribution<uint32_t>(1, 5000)(rng);
          b.AddRange(base + start, base + std::min(kChunk, start + length));
        }
        break;
      }
      case 4:
        b.AddRange(base, base + kChunk);
        break;
      default: {
        b.AddRange(base + 1000, base + 30000);
        for (int i = 0; i < 3000; ++i) b.Add(base + offset(rng));
        break;
      }
    }
  }
  if (std::bernoulli_distribution(0.5)(rng)) b.Optimize();
  return b;
}

// Live persons: chunks that are missing, full, full but for scattered holes,
// sparse, one range, or dense at random; a few ids past the operands; never
// one full range.
Bitmap RandomUniverse(std::mt19937& rng, uint32_t chunks) {
  Bitmap u;
  std::uniform_int_distribution<int> style(0, 5);
  std::uniform_int_distribution<uint32_t> offset(0, kChunk - 1);
  for (uint32_t c = 0; c < chunks; ++c) {
    const uint32_t base = c * kChunk;
    switch (style(rng)) {
      case 0:
        break;
      case 1:
        u.AddRange(base, base + kChunk);
        break;
      case 5:
        for (uint32_t i = 0; i < kChunk; ++i) {
          if (rng() % 4 != 0) u.Add(base + i);
        }
        break;
      case 2:
        u.AddRange(base, base + kChunk);
        for (int i = 0; i < 2000; ++i) u.Remove(base + offset(rng));
        break;
      case 3:
        for (int i = 0; i < 500; ++i) u.Add(base + offset(rng));
        break;
      default:
        u.AddRange(base + offset(rng) / 2, base + kChunk / 2 + offset(rng) / 2);
        break;
    }
  }
  u.AddRange(chunks * kChunk + 17, chunks * kChunk + 40);
  u.Add(3);
  if (std::bernoulli_distribution(0.5)(rng)) u.Optimize();
  return u;
}

void EmitRandom(std::mt19937& rng, int depth, uint32_t operands, BitmapFormula& f) {
  if (depth == 0 || std::bernoulli_distribution(0.3)(rng)) {
    f.code.push_back({Op::kPush, std::uniform_int_distribution<uint32_t>(0, operands - 1)(rng)});
  } else {
    EmitRandom(rng, depth - 1, operands, f);
    EmitRandom(rng, depth - 1, operands, f);
    static constexpr Op kBinary[] = {Op::kAnd, Op::kOr, Op::kAndNot};
    f.code.push_back({kBinary[std::uniform_int_distribution<int>(0, 2)(rng)]});
  }
  if (std::bernoulli_distribution(0.25)(rng)) f.code.push_back({Op::kNot});
}

// Checks every evaluation path of `f` against the operator reference.
void ExpectMatchesReference(const BitmapFormula& f, const Bitmap& universe, const std::string& what) {
  SCOPED_TRACE(what);
  const Bitmap expected = Reference(f, universe);
  absl::StatusOr<uint64_t> count = CountFormula(f, universe);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, expected.Cardinality());
  absl::StatusOr<uint64_t> portable_count = CountFormulaPortableForTest(f, universe);
  ASSERT_TRUE(portable_count.ok()) << portable_count.status();
  EXPECT_EQ(*portable_count, expected.Cardinality());

  absl::StatusOr<Bitmap> result = EvaluateFormula(f, universe);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->Cardinality(), expected.Cardinality());
  EXPECT_TRUE(*result == expected);
  absl::StatusOr<Bitmap> portable = EvaluateFormulaPortableForTest(f, universe);
  ASSERT_TRUE(portable.ok()) << portable.status();
  EXPECT_TRUE(*portable == expected);
  // The result is a well-formed bitmap: it survives the checked decoder.
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(result->Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == expected);
}

void RunRandomFormulas(uint32_t seed, uint32_t chunks, int universes, int formulas_per_universe) {
  std::mt19937 rng(seed);
  std::vector<Bitmap> operands;
  for (int i = 0; i < 6; ++i) operands.push_back(RandomOperand(rng, chunks));
  operands.push_back(Bitmap());
  for (int u = 0; u < universes; ++u) {
    const Bitmap universe = RandomUniverse(rng, chunks);
    for (int i = 0; i < formulas_per_universe; ++i) {
      BitmapFormula f;
      for (const Bitmap& b : operands) f.operands.push_back(&b);
      EmitRandom(rng, 4, static_cast<uint32_t>(operands.size()), f);
      ExpectMatchesReference(f, universe, "universe " + std::to_string(u) + " formula " + std::to_string(i));
      if (testing::Test::HasFailure()) return;
    }
  }
}

TEST(BitmapFormulaTest, RandomFormulasOverFewChunks) {
  for (uint32_t chunks = 0; chunks <= 3; ++chunks) {
    SCOPED_TRACE("chunks " + std::to_string(chunks));
    RunRandomFormulas(100 + chunks, chunks, 4, 40);
  }
}

TEST(BitmapFormulaTest, RandomFormulasOverManyChunks) { RunRandomFormulas(7, 160, 2, 12); }

TEST(BitmapFormulaTest, AudienceShapes) {
  std::mt19937 rng(11);
  std::vector<Bitmap> b;
  for (int i = 0; i < 9; ++i) b.push_back(RandomOperand(rng, 20));
  const Bitmap universe = RandomUniverse(rng, 20);

  BitmapFormula chain;  // a & b & ~c & d & ~e
  chain.Push(b[0]).Push(b[1]).And().Push(b[2]).AndNot().Push(b[3]).And().Push(b[4]).AndNot();
  ExpectMatchesReference(chain, universe, "chain");

  BitmapFormula mixed;  // (d | e) & f & ~g & h & i
  mixed.Push(b[3]).Push(b[4]).Or().Push(b[5]).And().Push(b[6]).AndNot().Push(b[7]).And().Push(b[8]).And();
  ExpectMatchesReference(mixed, universe, "mixed");

  BitmapFormula negations;  // ~(~a | ~b) & ~~c
  negations.Push(b[0]).Not().Push(b[1]).Not().Or().Not().Push(b[2]).Not().Not().And();
  ExpectMatchesReference(negations, universe, "negations");
}

// Sparse operands make the running result of a chain sparse after a link or
// two, so blocks finish by testing their few members against the rest.
TEST(BitmapFormulaTest, SparseChains) {
  std::mt19937 rng(13);
  for (double density : {0.001, 0.01, 0.05}) {
    std::vector<Bitmap> b;
    for (int i = 0; i < 5; ++i) {
      Bitmap x;
      std::bernoulli_distribution keep(density);
      for (uint32_t id = 0; id < 8 * kChunk; ++id) {
        if (keep(rng)) x.Add(id);
      }
      if (i == 3) x.AddRange(3 * kChunk, 4 * kChunk - 100);  // one run chunk
      b.push_back(std::move(x));
    }
    Bitmap dense;
    for (uint32_t id = 0; id < 8 * kChunk; id += 3) dense.Add(id);
    Bitmap holes = Bitmap::Range(0, 8 * kChunk);
    for (uint32_t id = 5; id < 8 * kChunk; id += 97) holes.Remove(id);
    holes.Optimize();
    const Bitmap full = Bitmap::Range(0, 8 * kChunk);
    for (const Bitmap* u : std::vector<const Bitmap*>{&holes, &full}) {
      BitmapFormula chain;  // a & b & ~c & d & ~e
      chain.Push(b[0]).Push(b[1]).And().Push(b[2]).AndNot().Push(b[3]).And().Push(b[4]).AndNot();
      ExpectMatchesReference(chain, *u, "chain " + std::to_string(density));
      BitmapFormula with_bitsets;  // a & dense & b & ~dense
      with_bitsets.Push(b[0]).Push(dense).And().Push(b[1]).Or().Push(dense).AndNot().Push(b[3]).And();
      ExpectMatchesReference(with_bitsets, *u, "bitsets " + std::to_string(density));
    }
  }
}

TEST(BitmapFormulaTest, NotIsTheComplementWithinTheUniverse) {
  Bitmap universe = Bitmap::Range(1, 11);
  universe.AddRange(70000, 70005);
  const Bitmap a = Bitmap::Of({2, 3, 70001, 500000});
  BitmapFormula f;
  f.Push(a).Not();
  absl::StatusOr<Bitmap> result = EvaluateFormula(f, universe);
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->ToVector(), ElementsAre(1, 4, 5, 6, 7, 8, 9, 10, 70000, 70002, 70003, 70004));
  EXPECT_EQ(*CountFormula(f, universe), 12u);
}

TEST(BitmapFormulaTest, ResultIsWithinTheUniverse) {
  const Bitmap universe = Bitmap::Of({1, 2, 3});
  const Bitmap a = Bitmap::Of({2, 3, 4, 100000});
  BitmapFormula f;
  f.Push(a);
  EXPECT_EQ(*CountFormula(f, universe), 2u);
  EXPECT_THAT(EvaluateFormula(f, universe)->ToVector(), ElementsAre(2, 3));
}

TEST(BitmapFormulaTest, AbsentOperandEmptiesAConjunction) {
  const Bitmap universe = Bitmap::Range(0, 3 * kChunk);
  const Bitmap a = Bitmap::Range(0, 3 * kChunk);
  const Bitmap b = Bitmap::Of({5, 2 * kChunk + 9});  // chunk 1 absent
  BitmapFormula f;
  f.Push(a).Push(b).And();
  EXPECT_THAT(EvaluateFormula(f, universe)->ToVector(), ElementsAre(5, 2 * kChunk + 9));
  BitmapFormula g;
  g.Push(a).Push(b).AndNot();
  EXPECT_EQ(*CountFormula(g, universe), 3 * kChunk - 2);
}

TEST(BitmapFormulaTest, ConstantChunksUseTheUniverse) {
  Bitmap universe = Bitmap::Range(0, 2 * kChunk);
  universe.Remove(77);
  universe.Optimize();
  const Bitmap empty;
  BitmapFormula all;  // ~empty: every chunk folds to "everyone"
  all.Push(empty).Not();
  EXPECT_EQ(*CountFormula(all, universe), 2 * kChunk - 1);
  absl::StatusOr<Bitmap> result = EvaluateFormula(all, universe);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, universe);
}

TEST(BitmapFormulaTest, RepeatedOperandsAndTheUniverseAsOperand) {
  std::mt19937 rng(5);
  const Bitmap a = RandomOperand(rng, 4);
  const Bitmap universe = RandomUniverse(rng, 4);
  BitmapFormula f;  // (a & ~a) | (universe & a)
  f.Push(a).Push(a).AndNot().Push(universe).Push(a).And().Or();
  ExpectMatchesReference(f, universe, "repeated");
  BitmapFormula g;
  g.operands = {&a};
  g.code = {{Op::kPush, 0}, {Op::kPush, 0}, {Op::kOr}, {Op::kNot}, {Op::kPush, 0}, {Op::kOr}};
  ExpectMatchesReference(g, universe, "same operand index");
}

TEST(BitmapFormulaTest, EmptyUniverseGivesNothing) {
  const Bitmap a = Bitmap::Range(0, 1000);
  BitmapFormula f;
  f.Push(a).Not();
  EXPECT_EQ(*CountFormula(f, Bitmap()), 0u);
  EXPECT_TRUE(EvaluateFormula(f, Bitmap())->Empty());
}

TEST(BitmapFormulaTest, ResultChunksAreArraysOrBitsets) {
  const Bitmap universe = Bitmap::Range(0, 3 * kChunk);
  Bitmap a = Bitmap::Range(0, 10);            // chunk 0: 10 ids
  a.AddRange(kChunk, kChunk + 4096);          // chunk 1: exactly an array's limit
  a.AddRange(2 * kChunk, 2 * kChunk + 4097);  // chunk 2: one more
  const Bitmap b = Bitmap::Of({3, kChunk + 1});
  BitmapFormula f;
  f.Push(a).Push(b).AndNot();
  ExpectMatchesReference(f, universe, "limits");
}

TEST(BitmapFormulaTest, MalformedFormulasAreInvalidArgument) {
  const Bitmap a = Bitmap::Of({1});
  const Bitmap universe = Bitmap::Range(0, 10);
  struct Case {
    std::vector<BitmapFormula::Instr> code;
    std::vector<const Bitmap*> operands;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, {&a}, "leaves 0 values"},
      {{{Op::kPush, 1}}, {&a}, "pushes operand 1 of 1"},
      {{{Op::kPush, 0}, {Op::kAnd}}, {&a}, "needs two values"},
      {{{Op::kNot}}, {&a}, "negates an empty stack"},
      {{{Op::kPush, 0}, {Op::kPush, 0}}, {&a}, "leaves 2 values"},
      {{{Op::kPush, 0}}, {nullptr}, "operand 0 is null"},
      {{{static_cast<Op>(99)}}, {&a}, "unknown op 99"},
  };
  for (const Case& c : cases) {
    BitmapFormula f;
    f.code = c.code;
    f.operands = c.operands;
    EXPECT_THAT(ValidateFormula(f).message(), HasSubstr(c.message));
    EXPECT_EQ(CountFormula(f, universe).status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(EvaluateFormula(f, universe).status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(CountFormulaPortableForTest(f, universe).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(BitmapFormulaTest, BuildersAppendInstructions) {
  const Bitmap a;
  const Bitmap b;
  BitmapFormula f;
  f.Push(a).Push(b).Or().Not().Push(a).And().Push(b).AndNot();
  ASSERT_EQ(f.operands.size(), 4u);
  EXPECT_EQ(f.operands[0], &a);
  EXPECT_EQ(f.operands[3], &b);
  ASSERT_EQ(f.code.size(), 8u);
  EXPECT_EQ(f.code[2].op, Op::kOr);
  EXPECT_EQ(f.code[3].op, Op::kNot);
  EXPECT_EQ(f.code[4].arg, 2u);
  EXPECT_EQ(f.code[7].op, Op::kAndNot);
  EXPECT_TRUE(ValidateFormula(f).ok());
}

}  // namespace
}  // namespace facet::bitmap
