// The data set and the two questions of segment_bench: N synthetic persons
// with traits, 24 tags and a purchase history, deterministic from a seed, and
// the exact answer to each question computed straight from the arrays.
//
//   BenchDataset data = GenerateBenchDataset(10'000'000, kDefaultBenchSeed);
//   uint64_t expected = CountQ1(data);   // every engine must return this
//
// The same (persons, seed) gives the same data set on every machine and for
// any number of generator threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/types.h"

namespace facet::bench {

inline constexpr uint32_t kDefaultBenchPersons = 10'000'000;
inline constexpr uint64_t kDefaultBenchSeed = 20261101;

inline constexpr TimeMs kDayMs = 86'400'000;
inline constexpr TimeMs kBenchAsOf = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
inline constexpr std::string_view kBenchAsOfText = "2026-11-01T00:00:00Z";
// Purchases fall in (as_of - kOrderHistoryDays days, as_of].
inline constexpr int kOrderHistoryDays = 730;
inline constexpr std::string_view kOrderEvent = "Order Completed";

inline constexpr int kTagCount = 24;
inline constexpr std::array<std::string_view, kTagCount> kTagNames = {
    "t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11", "t12",
    "t13", "t14", "t15", "t16", "t17", "t18", "t19", "t20", "t21", "t22", "t23", "t24"};
// Probability that a person carries each tag, independently of the others.
inline constexpr std::array<double, kTagCount> kTagDensities = {0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.10, 0.12,
                                                                0.15,  0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50,
                                                                0.55,  0.60, 0.65, 0.70, 0.05, 0.15, 0.25, 0.35};

inline constexpr std::array<std::string_view, 20> kCities = {"佛山", "广州", "深圳", "东莞", "珠海", "中山", "惠州",
                                                             "江门", "肇庆", "汕头", "北京", "上海", "杭州", "南京",
                                                             "苏州", "成都", "重庆", "武汉", "西安", "长沙"};

// The two questions, in Facet's segment language. Written generically:
//   Q1: a AND b AND NOT c AND trait.age BETWEEN 25 AND 40
//   Q2: (d OR e) AND f AND NOT g AND count(orders, 90d) > 10
//       AND days_since_last(orders) < 90
// with a=t12 (30%), b=t16 (50%), c=t07 (10%), d=t10 (20%), e=t21 (5%),
// f=t14 (40%), g=t05 (5%).
inline constexpr std::string_view kQ1Text =
    R"(tag("t12") AND tag("t16") AND NOT tag("t07") AND trait.age BETWEEN 25 AND 40)";
inline constexpr std::string_view kQ2Text =
    R"((tag("t10") OR tag("t21")) AND tag("t14") AND NOT tag("t05") AND )"
    R"(count("Order Completed", 90d) > 10 AND days_since_last("Order Completed") < 90)";

// The questions' tags as indexes into BenchDataset::tags ("tNN" is NN - 1).
struct QuestionTags {
  int a = 11;  // t12
  int b = 15;  // t16
  int c = 6;   // t07
  int d = 9;   // t10
  int e = 20;  // t21
  int f = 13;  // t14
  int g = 4;   // t05
};
inline constexpr QuestionTags kQuestionTags;
inline constexpr int kQ1AgeMin = 25;              // inclusive
inline constexpr int kQ1AgeMax = 40;              // inclusive
inline constexpr int kQ2WindowDays = 90;          // count(..., 90d)
inline constexpr int kQ2OrdersAbove = 10;         // count > 10
inline constexpr int kQ2DaysSinceLastBelow = 90;  // days_since_last < 90

struct BenchDataset {
  uint32_t persons = 0;  // N; person ids are 0..N-1
  TimeMs as_of = kBenchAsOf;
  std::vector<uint8_t> age;            // 0 = missing (about 3%), else 18..75
  std::vector<uint8_t> gender;         // 0 = "f", 1 = "m"
  std::vector<uint8_t> city;           // index into kCities
  std::vector<double> lifetime_value;  // 0..20000, 2 decimals
  // Per tag, a dense bitset of N bits: bit p of word p / 64 is person p.
  std::vector<std::vector<uint64_t>> tags;
  // Purchases (kOrderEvent) of person p are
  // order_times[order_offsets[p] .. order_offsets[p + 1]), ascending, all in
  // (as_of - 730 days, as_of].
  std::vector<uint32_t> order_offsets;  // N + 1 entries
  std::vector<TimeMs> order_times;
  std::vector<double> order_revenue;  // per order, 10..2000, 2 decimals
  // Per-person aggregates as of `as_of`, the columns the SQL peers store.
  std::vector<uint16_t> orders_90d;      // orders with as_of - 90d < t <= as_of
  std::vector<int32_t> days_since_last;  // floor((as_of - last) / 1 day), -1: no order

  bool HasTag(int tag, uint32_t person) const {
    return (tags[static_cast<size_t>(tag)][person >> 6] >> (person & 63)) & 1;
  }
};

// Builds the data set for `persons` persons from `seed`, on up to two
// threads. Takes 24 bytes per person plus 16 per purchase, 10.9 purchases
// per person on average: about 1.9 GiB for 10 million persons.
BenchDataset GenerateBenchDataset(uint32_t persons, uint64_t seed);

// Bytes held by the data set's arrays.
size_t DatasetBytes(const BenchDataset& data);

// The exact answers, from the arrays: the reference every engine must match.
uint64_t CountQ1(const BenchDataset& data);
uint64_t CountQ2(const BenchDataset& data);

}  // namespace facet::bench
