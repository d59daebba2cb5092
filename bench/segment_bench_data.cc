#include "bench/segment_bench_data.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <thread>

namespace facet::bench {
namespace {

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// splitmix64: fast, and seeded independently per person and stream so that
// the data does not depend on how persons are split between threads.
class Rng {
 public:
  Rng(uint64_t seed, uint32_t person, uint64_t stream)
      : state_(Mix64(seed ^ Mix64((uint64_t{person} << 2) | stream))) {}

  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ULL); }

  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }

 private:
  uint64_t state_;
};

constexpr uint64_t kAttributesStream = 0;
constexpr uint64_t kOrdersStream = 1;

// P(x) as a threshold on a uniform 64-bit draw.
uint64_t Threshold(double p) { return static_cast<uint64_t>(std::ldexp(p, 64)); }

// Runs fn(begin, end) over [0, persons) in up to two ranges whose bounds are
// multiples of 64, so that no two threads write the same bitset word.
template <typename Fn>
void ParallelOverPersons(uint32_t persons, Fn fn) {
  const unsigned threads = std::min(2u, std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 1 || persons < 100'000) {
    fn(uint32_t{0}, persons);
    return;
  }
  const uint32_t mid = (persons / 2) & ~uint32_t{63};
  std::thread other([&] { fn(mid, persons); });
  fn(uint32_t{0}, mid);
  other.join();
}

// Sizes `v` to `n` value-initialised elements, asking for transparent huge
// pages first: for arrays of gigabytes, page faults otherwise dominate.
template <typename T>
void ResizeOnHugePages(std::vector<T>& v, size_t n) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  v.reserve(n);
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data()) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(v.data() + n) & ~(kHugePage - 1);
  if (end > begin) {
    // Advice only: without it the same memory is mapped in small pages.
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
  v.resize(n);
}

int OrderCount(Rng& rng) {
  const uint64_t band = rng.Below(100);
  if (band < 45) return static_cast<int>(rng.Between(0, 2));
  if (band < 75) return static_cast<int>(rng.Between(3, 8));
  if (band < 93) return static_cast<int>(rng.Between(9, 30));
  return static_cast<int>(rng.Between(31, 120));
}

}  // namespace

BenchDataset GenerateBenchDataset(uint32_t persons, uint64_t seed) {
  BenchDataset d;
  d.persons = persons;
  d.as_of = kBenchAsOf;
  ResizeOnHugePages(d.age, persons);
  ResizeOnHugePages(d.gender, persons);
  ResizeOnHugePages(d.city, persons);
  ResizeOnHugePages(d.lifetime_value, persons);
  const size_t words = (static_cast<size_t>(persons) + 63) / 64;
  d.tags.assign(kTagCount, std::vector<uint64_t>(words, 0));
  ResizeOnHugePages(d.order_offsets, static_cast<size_t>(persons) + 1);
  ResizeOnHugePages(d.orders_90d, persons);
  ResizeOnHugePages(d.days_since_last, persons);

  std::array<uint64_t, kTagCount> tag_thresholds;
  for (size_t t = 0; t < kTagCount; ++t) tag_thresholds[t] = Threshold(kTagDensities[t]);
  const uint64_t missing_age = Threshold(0.03);

  // Pass 1: traits, tags and each person's number of orders.
  ParallelOverPersons(persons, [&](uint32_t begin, uint32_t end) {
    for (uint32_t p = begin; p < end; ++p) {
      Rng rng(seed, p, kAttributesStream);
      d.age[p] = rng.Next() < missing_age ? 0 : static_cast<uint8_t>(rng.Between(18, 75));
      d.gender[p] = static_cast<uint8_t>(rng.Next() >> 63);
      d.city[p] = static_cast<uint8_t>(rng.Below(kCities.size()));
      d.lifetime_value[p] = static_cast<double>(rng.Between(0, 2'000'000)) / 100.0;
      const uint64_t bit = uint64_t{1} << (p & 63);
      for (size_t t = 0; t < kTagCount; ++t) {
        if (rng.Next() < tag_thresholds[t]) d.tags[t][p >> 6] |= bit;
      }
      d.order_offsets[static_cast<size_t>(p) + 1] = static_cast<uint32_t>(OrderCount(rng));
    }
  });
  for (size_t p = 0; p < persons; ++p) d.order_offsets[p + 1] += d.order_offsets[p];
  const size_t orders = d.order_offsets[persons];
  ResizeOnHugePages(d.order_times, orders);
  ResizeOnHugePages(d.order_revenue, orders);

  // Pass 2: purchases, sorted per person, and the aggregates as of as_of.
  const TimeMs window = TimeMs{kOrderHistoryDays} * kDayMs;
  const TimeMs recent_after = d.as_of - TimeMs{kQ2WindowDays} * kDayMs;
  ParallelOverPersons(persons, [&](uint32_t begin, uint32_t end) {
    for (uint32_t p = begin; p < end; ++p) {
      Rng rng(seed, p, kOrdersStream);
      TimeMs* first = d.order_times.data() + d.order_offsets[p];
      TimeMs* last = d.order_times.data() + d.order_offsets[static_cast<size_t>(p) + 1];
      double* revenue = d.order_revenue.data() + d.order_offsets[p];
      for (TimeMs* t = first; t != last; ++t) {
        *t = d.as_of - static_cast<TimeMs>(rng.Below(static_cast<uint64_t>(window)));
      }
      std::sort(first, last);
      for (TimeMs* t = first; t != last; ++t) {
        *revenue++ = static_cast<double>(rng.Between(1'000, 200'000)) / 100.0;
      }
      const TimeMs* recent = std::upper_bound(first, last, recent_after);
      d.orders_90d[p] = static_cast<uint16_t>(last - recent);
      d.days_since_last[p] = first == last ? -1 : static_cast<int32_t>((d.as_of - last[-1]) / kDayMs);
    }
  });
  return d;
}

size_t DatasetBytes(const BenchDataset& d) {
  auto bytes = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  size_t total = bytes(d.age) + bytes(d.gender) + bytes(d.city) + bytes(d.lifetime_value) + bytes(d.order_offsets) +
                 bytes(d.order_times) + bytes(d.order_revenue) + bytes(d.orders_90d) + bytes(d.days_since_last);
  for (const auto& t : d.tags) total += bytes(t);
  return total;
}

uint64_t CountQ1(const BenchDataset& d) {
  const auto& a = d.tags[kQuestionTags.a];
  const auto& b = d.tags[kQuestionTags.b];
  const auto& c = d.tags[kQuestionTags.c];
  uint64_t count = 0;
  for (size_t w = 0; w < a.size(); ++w) {
    for (uint64_t bits = a[w] & b[w] & ~c[w]; bits != 0; bits &= bits - 1) {
      const size_t p = w * 64 + static_cast<size_t>(std::countr_zero(bits));
      const int age = d.age[p];
      count += age != 0 && age >= kQ1AgeMin && age <= kQ1AgeMax;
    }
  }
  return count;
}

uint64_t CountQ2(const BenchDataset& d) {
  const auto& dd = d.tags[kQuestionTags.d];
  const auto& e = d.tags[kQuestionTags.e];
  const auto& f = d.tags[kQuestionTags.f];
  const auto& g = d.tags[kQuestionTags.g];
  uint64_t count = 0;
  for (size_t w = 0; w < dd.size(); ++w) {
    for (uint64_t bits = (dd[w] | e[w]) & f[w] & ~g[w]; bits != 0; bits &= bits - 1) {
      const size_t p = w * 64 + static_cast<size_t>(std::countr_zero(bits));
      const int32_t since = d.days_since_last[p];  // -1 (no order) is NULL: not < 90
      count += d.orders_90d[p] > kQ2OrdersAbove && since >= 0 && since < kQ2DaysSinceLastBelow;
    }
  }
  return count;
}

}  // namespace facet::bench
