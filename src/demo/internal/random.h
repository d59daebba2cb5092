// Rng: a small, fast, deterministic random source (SplitMix64) for the demo
// data set. The same seed gives the same sequence on every platform.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace facet::demo::internal {

// Mixes integers into one well-distributed 64-bit value.
inline uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline uint64_t Mix(uint64_t a, uint64_t b, uint64_t c) { return Mix(Mix(a, b), c); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }

  // Uniform in [lo, hi], inclusive.
  int64_t Range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1)); }

  // Uniform in [0, 1).
  double Double() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  bool Chance(double p) { return Double() < p; }

  // Pareto with scale `xm` and shape `alpha`: heavy-tailed, mean
  // xm * alpha / (alpha - 1) for alpha > 1.
  double Pareto(double xm, double alpha) { return xm / std::pow(1.0 - Double(), 1.0 / alpha); }

  // Index i with probability weights[i] / sum(weights).
  template <typename T, size_t N>
  size_t Weighted(const T (&weights)[N]) {
    uint64_t total = 0;
    for (const T& w : weights) total += static_cast<uint64_t>(w);
    uint64_t x = Below(total);
    for (size_t i = 0; i < N; ++i) {
      if (x < static_cast<uint64_t>(weights[i])) return i;
      x -= static_cast<uint64_t>(weights[i]);
    }
    return N - 1;
  }

 private:
  uint64_t state_;
};

}  // namespace facet::demo::internal
