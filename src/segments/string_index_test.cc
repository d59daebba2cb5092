#include "segments/string_index.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "segments/evaluator.h"
#include "segments/parser.h"
#include "segments/person_table.h"

namespace facet::segments {
namespace {

TEST(StringIndexTest, KeepsABitmapPerValueWhileValuesAreFew) {
  StringIndex city;
  EXPECT_TRUE(city.Set(1, 7));
  EXPECT_TRUE(city.Set(2, 7));
  EXPECT_TRUE(city.Set(3, 9));
  EXPECT_FALSE(city.Set(3, 9));
  EXPECT_EQ(city.Get(1), 7u);
  EXPECT_EQ(city.Get(4), StringIndex::kNone);
  EXPECT_EQ(city.Holding(7).ToVector(), (std::vector<PersonId>{1, 2}));
  EXPECT_EQ(city.present().ToVector(), (std::vector<PersonId>{1, 2, 3}));
  EXPECT_TRUE(city.Set(2, 9));
  EXPECT_TRUE(city.Set(1, StringIndex::kNone));
  EXPECT_TRUE(city.Holding(7).Empty());
  EXPECT_EQ(city.holders().size(), 1u);  // a value nobody holds is dropped
  EXPECT_EQ(city.Holding(9).ToVector(), (std::vector<PersonId>{2, 3}));
  EXPECT_EQ(city.present().ToVector(), (std::vector<PersonId>{2, 3}));
}

TEST(StringIndexTest, TooManyValuesKeepOnlyTheColumn) {
  StringIndex code;
  for (uint32_t p = 0; p <= StringIndex::kMaxValues; ++p) code.Set(p, p);
  EXPECT_FALSE(code.indexed());
  EXPECT_EQ(code.Get(17), 17u);
  EXPECT_EQ(code.present().Cardinality(), StringIndex::kMaxValues + 1);
}

// Selections through the string columns (bitmaps per value, or a scan of a
// column with thousands of values) equal person-by-person evaluation.
TEST(StringIndexTest, SelectionsEqualPersonByPersonEvaluation) {
  PersonTable table;
  constexpr PersonId kPersons = 3000;
  const char* cities[] = {"佛山", "广州", "深圳", "Foshan"};
  for (PersonId p = 0; p < kPersons; ++p) {
    std::map<std::string, profiles::TraitValue, std::less<>> traits;
    if (p % 7 != 0) traits["city"].json = std::string("\"") + cities[p % 4] + "\"";
    if (p % 11 == 3) traits["city"].json = "42";                    // a number where others have text
    traits["code"].json = "\"c" + std::to_string(p % 2500) + "\"";  // too many values for bitmaps
    if (p % 13 == 0) traits["code"].json = "[\"c1\"]";
    table.Touch(p);
    table.SetTraits(p, traits);
  }
  ASSERT_TRUE(table.StringTrait(table.strings().Find("city"))->indexed());
  ASSERT_FALSE(table.StringTrait(table.strings().Find("code"))->indexed());
  const TimeMs now = 1'800'000'000'000;
  for (const char* text :
       {R"(trait.city = "佛山")", R"(trait.city IN ("广州", "深圳", "北京"))", R"(trait.city = "北京")",
        R"(trait.city >= "Foshan")", R"(trait.city BETWEEN "a" AND "z")", R"(trait.city != "佛山")",
        R"(trait.city NOT IN ("佛山"))", R"(NOT trait.city = "佛山")", R"(trait.city = 42)", R"(trait.code = "c17")",
        R"(trait.code IN ("c1", "c2", "c2499", "nope"))", R"(trait.code < "c2")",
        R"(trait.code NOT BETWEEN "c1" AND "c3")", R"(trait.code CONTAINS "c1")",
        R"(trait.city = "广州" AND trait.code >= "c2")"}) {
    absl::StatusOr<Expr> e = Parse(text);
    ASSERT_TRUE(e.ok()) << text << ": " << e.status();
    absl::StatusOr<CompiledExpr> c = Compile(*e, table, [](Expr::Kind, std::string_view) -> absl::StatusOr<uint32_t> {
      return absl::NotFoundError("no references here");
    });
    ASSERT_TRUE(c.ok()) << text << ": " << c.status();
    std::vector<PersonId> want;
    for (PersonId p = 0; p < kPersons; ++p) {
      if (c->Matches(p, now, nullptr)) want.push_back(p);
    }
    EXPECT_EQ(c->Select(table.live(), now, nullptr).ToVector(), want) << text;
    EXPECT_EQ(c->Count(table.live(), now, nullptr), want.size()) << text;
  }
}

}  // namespace
}  // namespace facet::segments
