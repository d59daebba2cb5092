#include "segments/person_table.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "segments/internal/person_column.h"

namespace facet::segments {
namespace {

using ::testing::HasSubstr;
using Traits = std::map<std::string, profiles::TraitValue, std::less<>>;

Traits MakeTraits(std::initializer_list<std::pair<std::string, std::string>> kv) {
  Traits t;
  for (const auto& [k, json] : kv) t[k].json = json;
  return t;
}

TEST(PersonColumnTest, StaysSparseWhileFewHoldAValue) {
  internal::PersonColumn<double> c(std::numeric_limits<double>::quiet_NaN());
  c.Set(1'000'000, 5.0, false);
  EXPECT_FALSE(c.dense());
  EXPECT_EQ(c.Get(1'000'000), 5.0);
  EXPECT_TRUE(std::isnan(c.Get(7)));
  EXPECT_LT(c.MemoryBytes(), 1024u);
}

TEST(PersonColumnTest, TurnsDenseWhenAQuarterOfTheSpanHoldsAndBackForALateHighId) {
  internal::PersonColumn<uint32_t> c(~0u);
  for (PersonId p = 0; p < 100; p += 2) c.Set(p, p, false);
  EXPECT_TRUE(c.dense());
  for (PersonId p = 0; p < 100; p += 2) EXPECT_EQ(c.Get(p), p);
  EXPECT_EQ(c.Get(1), ~0u);
  c.Set(10'000'000, 3, false);  // one holder far away: the vector would be 80 MB
  EXPECT_FALSE(c.dense());
  EXPECT_EQ(c.Get(10'000'000), 3u);
  EXPECT_EQ(c.Get(98), 98u);
  EXPECT_EQ(c.size(), 51u);
  c.Set(98, ~0u, true);
  EXPECT_EQ(c.Get(98), ~0u);
  EXPECT_EQ(c.size(), 50u);
}

TEST(PersonTableTest, ManyTraitsOfOnePersonCostInProportion) {
  PersonTable table;
  for (PersonId p = 0; p < 100'000; ++p) table.SetTraits(p, MakeTraits({{"age", "30"}}));
  const size_t before = table.MemoryBytes();
  Traits attack;
  for (int i = 0; i < 200; ++i) attack["k" + std::to_string(i)].json = std::to_string(i);
  table.SetTraits(99'999, attack);
  // 200 new numeric columns for one person: a few hundred bytes each, not
  // 800 KB each as a column sized to every person would be.
  EXPECT_LT(table.MemoryBytes() - before, 200u * 1024);
  const uint32_t k7 = table.strings().Find("k7");
  ASSERT_NE(table.NumericTrait(k7), nullptr);
  EXPECT_EQ(table.NumericTrait(k7)->Get(99'999), 7.0);
}

TEST(PersonTableTest, PathsPastTheDepthBoundAreNotIndexed) {
  PersonTable table(PersonTableOptions{.max_trait_paths = 100, .max_trait_depth = 3});
  std::string deep = "1";
  for (int i = 0; i < 1000; ++i) deep = "{\"a\":" + deep + "}";
  std::vector<PersonTable::Unindexed> unindexed;
  table.SetTraits(1, MakeTraits({{"n", deep}, {"addr", R"({"geo":{"city":"佛山"}})"}}), nullptr, &unindexed);
  ASSERT_EQ(unindexed.size(), 1u);
  EXPECT_EQ(unindexed[0].path, "n.a.a.*");
  EXPECT_THAT(unindexed[0].reason, HasSubstr("deeper than 3"));
  EXPECT_NE(table.strings().Find("addr.geo.city"), StringPool::kNone);
  EXPECT_NE(table.StringTrait(table.strings().Find("addr.geo.city")), nullptr);
  EXPECT_EQ(table.strings().Find("n.a.a.a"), StringPool::kNone);
  EXPECT_EQ(table.refused_too_deep(), 1u);
  table.SetTraits(1, MakeTraits({{"n", deep}}));
  EXPECT_EQ(table.refused_too_deep(), 1u);  // counted once
}

TEST(PersonTableTest, PathsPastTheCountBoundAreNotIndexed) {
  PersonTable table(PersonTableOptions{.max_trait_paths = 3, .max_trait_depth = 4});
  table.SetTraits(1, MakeTraits({{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  std::vector<PersonTable::Unindexed> unindexed;
  table.SetTraits(2, MakeTraits({{"a", "4"}, {"d", "5"}}), nullptr, &unindexed);
  ASSERT_EQ(unindexed.size(), 1u);
  EXPECT_EQ(unindexed[0].path, "d");
  EXPECT_THAT(unindexed[0].reason, HasSubstr("more than 3 distinct trait paths"));
  EXPECT_EQ(table.NumericTrait(table.strings().Find("a"))->Get(2), 4.0);
  EXPECT_EQ(table.trait_paths(), 3u);
  EXPECT_EQ(table.refused_over_count(), 1u);
}

}  // namespace
}  // namespace facet::segments
