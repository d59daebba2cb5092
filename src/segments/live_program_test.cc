// MatchesLive() must answer what Matches() answers with the same live
// columns, and lower next_change the same way, for every kind of node: the
// numeric tests it reads from columns (aggregates and numeric traits, whose
// traits may also hold strings, booleans or nothing) and the nodes it hands
// to the general evaluator.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "segments/evaluator.h"
#include "segments/numeric_index.h"
#include "segments/parser.h"
#include "segments/person_table.h"

namespace facet::segments {
namespace {

constexpr TimeMs kDay = 86400000;
constexpr TimeMs kNow = 1762000000000;  // 2025-11-01T12:26:40Z

class LiveProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Persons 0..5: numbers, a number as a string, a boolean, null, nothing.
    const std::vector<std::map<std::string, std::string>> traits = {
        {{"age", "30"}, {"city", "\"佛山\""}, {"score", "7.5"}},
        {{"age", "\"35\""}, {"city", "\"广州\""}},
        {{"age", "true"}, {"score", "0"}},
        {{"age", "null"}, {"score", "-2"}},
        {},
        {{"age", "41"}, {"city", "\"佛山\""}, {"score", "100"}},
    };
    for (PersonId p = 0; p < traits.size(); ++p) {
      std::map<std::string, profiles::TraitValue, std::less<>> t;
      for (const auto& [k, v] : traits[p]) t[k].json = v;
      table_.Touch(p);
      table_.SetTraits(p, t);
    }
    // Orders at various ages (one in the future), revenue as numbers and a
    // string; a page event that no track aggregate counts.
    AddOrder(0, kNow - 2 * kDay, "150");
    AddOrder(0, kNow - 40 * kDay, "80");
    AddOrder(1, kNow - 1 * kDay, "\"n/a\"");
    AddOrder(2, kNow - 200 * kDay, "1200");
    AddOrder(2, kNow + 3 * kDay, "5");
    AddOrder(5, kNow - 10 * kDay, "300");
    AddOrder(5, kNow - 11 * kDay, "700");
    AddOrder(5, kNow - 400 * kDay, "10");
  }

  void AddOrder(PersonId p, TimeMs at, const std::string& revenue) {
    profiles::Event e;
    e.seq = ++seq_;
    e.person = p;
    e.type = profiles::EventType::kTrack;
    e.name = "Order Completed";
    e.timestamp = at;
    e.properties = "{\"revenue\":" + revenue + ",\"category\":\"lens\"}";
    e.context = "{\"channel\":\"app\"}";
    table_.AddEvent(p, e);
  }

  // Checks every person against `text`; returns how many it selects.
  int Check(const std::string& text) {
    SCOPED_TRACE(text);
    absl::StatusOr<Expr> parsed = Parse(text);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    if (!parsed.ok()) return -1;
    auto no_refs = [](Expr::Kind, std::string_view) -> absl::StatusOr<uint32_t> {
      return absl::NotFoundError("no references here");
    };
    absl::StatusOr<CompiledExpr> expr = Compile(*parsed, table_, no_refs);
    EXPECT_TRUE(expr.ok()) << expr.status();
    if (!expr.ok()) return -1;
    // The live columns, as a catalog keeps them: each aggregate at kNow.
    std::vector<std::unique_ptr<NumericIndex>> owned;
    std::vector<NumericIndex*> columns;
    for (size_t i = 0; i < expr->aggregate_count(); ++i) {
      owned.push_back(std::make_unique<NumericIndex>());
      columns.push_back(owned.back().get());
      for (PersonId p = 0; p < 6; ++p) {
        TimeMs ignored = CompiledExpr::kNever;
        owned.back()->Set(p, expr->AggregateValue(i, *table_.Get(p), p, kNow, &ignored));
      }
    }
    expr->BindLive(columns);
    int selected = 0;
    for (PersonId p = 0; p < 6; ++p) {
      SCOPED_TRACE("person " + std::to_string(p));
      TimeMs want_next = CompiledExpr::kNever, got_next = CompiledExpr::kNever;
      const bool want = expr->Matches(*table_.Get(p), p, kNow, nullptr, &want_next, &columns);
      const bool got = expr->MatchesLive(*table_.Get(p), p, kNow, nullptr, &got_next);
      EXPECT_EQ(got, want);
      EXPECT_EQ(got_next, want_next);
      selected += got;
    }
    return selected;
  }

  PersonTable table_;
  EventSeq seq_ = 0;
};

TEST_F(LiveProgramTest, NumericTraitTestsAgreeWhateverTheTraitHolds) {
  EXPECT_EQ(Check("trait.age > 29"), 2);
  EXPECT_EQ(Check("trait.age >= 30"), 2);
  EXPECT_EQ(Check("trait.age < 35"), 1);
  EXPECT_EQ(Check("trait.age <= 30"), 1);
  EXPECT_EQ(Check("trait.age = 41"), 1);
  EXPECT_EQ(Check("trait.age BETWEEN 25 AND 40"), 1);
  EXPECT_EQ(Check("trait.age NOT BETWEEN 25 AND 40"), 1);
  EXPECT_EQ(Check("trait.age IN (30, 41, 50)"), 2);
  // The string "35", the boolean, null and nothing differ from a number in
  // these: they go to the general evaluator.
  EXPECT_EQ(Check("trait.age != 30"), 3);
  EXPECT_EQ(Check("trait.age NOT IN (30)"), 3);
  EXPECT_EQ(Check("trait.age IS NULL"), 2);
  EXPECT_EQ(Check("trait.age IS NOT NULL"), 4);
  EXPECT_EQ(Check("trait.score BETWEEN -5 AND 7.5"), 3);
  EXPECT_EQ(Check("trait.nickname >= 1"), 0);  // no column at all
}

TEST_F(LiveProgramTest, AggregateTestsAgreeIncludingNull) {
  EXPECT_EQ(Check(R"(count("Order Completed", 30d) >= 1)"), 3);
  EXPECT_EQ(Check(R"(count("Order Completed", 30d) != 0)"), 3);
  EXPECT_EQ(Check(R"(count("Order Completed") IN (1, 2))"), 3);
  EXPECT_EQ(Check(R"(count("Order Completed") NOT IN (0))"), 4);
  EXPECT_EQ(Check(R"(sum("Order Completed", properties.revenue, 365d) > 100)"), 3);
  EXPECT_EQ(Check(R"(avg("Order Completed", properties.revenue) IS NULL)"), 3);
  EXPECT_EQ(Check(R"(avg("Order Completed", properties.revenue) IS NOT NULL)"), 3);
  EXPECT_EQ(Check(R"(max("Order Completed", properties.revenue) BETWEEN 100 AND 1000)"), 2);
  EXPECT_EQ(Check(R"(min("Order Completed", properties.revenue) NOT BETWEEN 50 AND 100)"), 2);
  EXPECT_EQ(Check(R"(days_since_last("Order Completed") <= 7)"), 2);
  EXPECT_EQ(Check(R"(days_since_first("Order Completed") != 10)"), 4);
  EXPECT_EQ(Check(R"(hour_share("Order Completed", 18, 22) = 1)"), 4);  // 20:26 in UTC+8
}

TEST_F(LiveProgramTest, BooleanStructureAndGeneralNodesAgree) {
  EXPECT_EQ(Check(R"(trait.age > 20 AND count("Order Completed", 30d) >= 1)"), 2);
  EXPECT_EQ(Check(R"(trait.age > 40 OR NOT (count("Order Completed") >= 1))"), 3);
  EXPECT_EQ(Check(R"(NOT (trait.city = "佛山" AND trait.score > 50))"), 5);
  EXPECT_EQ(Check(R"((trait.city IN ("佛山", "广州") OR trait.age IS NULL) AND NOT trait.score < 0)"), 4);
  EXPECT_EQ(Check(R"(count("Order Completed" WHERE properties.category = "lens", 90d) >= 2 AND trait.age >= 30)"), 2);
  EXPECT_EQ(Check(R"(last_touch.channel = "app" AND days_since_last("Order Completed") < 30)"), 3);
  EXPECT_EQ(Check(R"(trait.age != 30 OR (trait.score >= 0 AND NOT (trait.score > 7)))"), 3);
}

TEST_F(LiveProgramTest, StringEqualityAgrees) {
  EXPECT_EQ(Check(R"(trait.city = "佛山")"), 2);
  EXPECT_EQ(Check(R"(trait.city IN ("广州", "深圳"))"), 1);
  EXPECT_EQ(Check(R"(trait.city NOT IN ("广州"))"), 2);
  EXPECT_EQ(Check(R"(trait.city != "佛山")"), 1);
  EXPECT_EQ(Check(R"(trait.city < "广")"), 2);  // order: by PersonEval
  EXPECT_EQ(Check(R"(trait.age = "35")"), 1);   // a string where others hold numbers
  EXPECT_EQ(Check(R"(trait.age IN ("35", 30))"), 2);
}

TEST_F(LiveProgramTest, StringsFirstHeldAfterTheProgramWasBuilt) {
  absl::StatusOr<Expr> parsed = Parse(R"(trait.city IN ("汕头", "佛山") OR trait.zone = "东区")");
  ASSERT_TRUE(parsed.ok());
  auto no_refs = [](Expr::Kind, std::string_view) -> absl::StatusOr<uint32_t> {
    return absl::NotFoundError("no references here");
  };
  absl::StatusOr<CompiledExpr> expr = Compile(*parsed, table_, no_refs);
  ASSERT_TRUE(expr.ok()) << expr.status();
  expr->BindLive({});
  std::map<std::string, profiles::TraitValue, std::less<>> t;
  t["city"].json = "\"汕头\"";
  table_.SetTraits(4, t);  // "汕头" interned after BindLive
  t.clear();
  t["zone"].json = "\"东区\"";
  table_.SetTraits(2, t);  // a trait with no column when BindLive ran
  for (PersonId p = 0; p < 6; ++p) {
    SCOPED_TRACE("person " + std::to_string(p));
    EXPECT_EQ(expr->MatchesLive(*table_.Get(p), p, kNow, nullptr, nullptr),
              expr->Matches(*table_.Get(p), p, kNow, nullptr, nullptr, nullptr));
  }
  EXPECT_TRUE(expr->MatchesLive(*table_.Get(4), 4, kNow, nullptr, nullptr));
  EXPECT_TRUE(expr->MatchesLive(*table_.Get(2), 2, kNow, nullptr, nullptr));
  EXPECT_FALSE(expr->MatchesLive(*table_.Get(1), 1, kNow, nullptr, nullptr));
}

}  // namespace
}  // namespace facet::segments
