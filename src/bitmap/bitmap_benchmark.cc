// Audience-count micro benchmarks over 10,000,000 person ids.
//
//   range(0): operand density in percent (1, 10, 50)
//   range(1): 0 = every id is live (the universe is one range),
//             1 = 1% of ids deleted at random (the universe is run containers)
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "bitmap/bitmap.h"
#include "bitmap/bitmap_formula.h"

namespace facet::bitmap {
namespace {

constexpr PersonId kPersons = 10'000'000;
constexpr int kOperands = 9;

Bitmap RandomBitmap(uint32_t seed, double density) {
  std::mt19937 rng(seed);
  std::geometric_distribution<uint32_t> gap(density);
  std::vector<PersonId> ids;
  ids.reserve(static_cast<size_t>(kPersons * density * 1.1));
  for (uint64_t id = gap(rng); id < kPersons; id += 1 + gap(rng)) ids.push_back(static_cast<PersonId>(id));
  Bitmap b = Bitmap::Of(std::span<const PersonId>(ids));
  b.Optimize();
  return b;
}

struct Dataset {
  std::vector<Bitmap> operands;  // a..i
  Bitmap universe;
};

const Dataset& Data(int density_percent, bool deletions) {
  static std::map<std::pair<int, bool>, Dataset> cache;
  auto [it, inserted] = cache.try_emplace({density_percent, deletions});
  if (inserted) {
    for (int i = 0; i < kOperands; ++i) {
      it->second.operands.push_back(RandomBitmap(1000 * density_percent + i, density_percent / 100.0));
    }
    it->second.universe = Bitmap::Range(0, kPersons);
    if (deletions) it->second.universe -= RandomBitmap(99, 0.01);
    it->second.universe.Optimize();
  }
  return it->second;
}

// a & b & ~c & d & ~e
BitmapFormula Chain(const Dataset& d) {
  const std::vector<Bitmap>& o = d.operands;
  BitmapFormula f;
  f.Push(o[0]).Push(o[1]).And().Push(o[2]).AndNot().Push(o[3]).And().Push(o[4]).AndNot();
  return f;
}

// (d | e) & f & ~g & h & i
BitmapFormula Mixed(const Dataset& d) {
  const std::vector<Bitmap>& o = d.operands;
  BitmapFormula f;
  f.Push(o[3]).Push(o[4]).Or().Push(o[5]).And().Push(o[6]).AndNot().Push(o[7]).And().Push(o[8]).And();
  return f;
}

void BM_AndCardinality(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  for (auto _ : state) benchmark::DoNotOptimize(d.operands[0].AndCardinality(d.operands[1]));
}
BENCHMARK(BM_AndCardinality)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_FormulaCount(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  const BitmapFormula f = Chain(d);
  uint64_t n = 0;
  for (auto _ : state) benchmark::DoNotOptimize(n = *CountFormula(f, d.universe));
  state.counters["audience"] = static_cast<double>(n);
}
BENCHMARK(BM_FormulaCount)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_ChainedOps(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  const std::vector<Bitmap>& o = d.operands;
  uint64_t n = 0;
  for (auto _ : state) {
    Bitmap r = o[0] & o[1];
    r -= o[2];
    r &= o[3];
    r -= o[4];
    benchmark::DoNotOptimize(n = r.AndCardinality(d.universe));
  }
  state.counters["audience"] = static_cast<double>(n);
}
BENCHMARK(BM_ChainedOps)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_FormulaCountMixed(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  const BitmapFormula f = Mixed(d);
  uint64_t n = 0;
  for (auto _ : state) benchmark::DoNotOptimize(n = *CountFormula(f, d.universe));
  state.counters["audience"] = static_cast<double>(n);
}
BENCHMARK(BM_FormulaCountMixed)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_ChainedOpsMixed(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  const std::vector<Bitmap>& o = d.operands;
  uint64_t n = 0;
  for (auto _ : state) {
    Bitmap r = o[3] | o[4];
    r &= o[5];
    r -= o[6];
    r &= o[7];
    r &= o[8];
    benchmark::DoNotOptimize(n = r.AndCardinality(d.universe));
  }
  state.counters["audience"] = static_cast<double>(n);
}
BENCHMARK(BM_ChainedOpsMixed)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_FormulaEvaluate(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  const BitmapFormula f = Chain(d);
  for (auto _ : state) benchmark::DoNotOptimize(EvaluateFormula(f, d.universe));
}
BENCHMARK(BM_FormulaEvaluate)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_FormulaCountPortable(benchmark::State& state) {
  const Dataset& d = Data(static_cast<int>(state.range(0)), state.range(1) != 0);
  const BitmapFormula f = Chain(d);
  for (auto _ : state) benchmark::DoNotOptimize(CountFormulaPortableForTest(f, d.universe));
}
BENCHMARK(BM_FormulaCountPortable)->ArgsProduct({{1, 10, 50}, {0, 1}})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace facet::bitmap
