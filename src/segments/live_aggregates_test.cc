#include "segments/internal/live_aggregates.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "segments/parser.h"
#include "segments/person_table.h"

namespace facet::segments::internal {
namespace {

constexpr TimeMs kNow = 1767225600000;
constexpr TimeMs kDay = 24 * 3600 * 1000;

class LiveAggregatesTest : public ::testing::Test {
 protected:
  LiveAggregatesTest() {
    for (PersonId p = 0; p < 3; ++p) table_.Touch(p);
    Buy(1, kNow - kDay);
  }

  void Buy(PersonId p, TimeMs at) {
    profiles::Event e;
    e.seq = ++seq_;
    e.person = p;
    e.name = "Buy";
    e.timestamp = at;
    table_.AddEvent(p, e);
  }

  std::unique_ptr<Definition> Rule(uint32_t id, std::string_view text) {
    auto d = std::make_unique<Definition>();
    d->id = id;
    absl::StatusOr<Expr> e = Parse(text);
    EXPECT_TRUE(e.ok()) << e.status();
    auto no_refs = [](Expr::Kind, std::string_view) -> absl::StatusOr<uint32_t> {
      return absl::NotFoundError("no references here");
    };
    absl::StatusOr<CompiledExpr> c = Compile(*e, table_, no_refs);
    EXPECT_TRUE(c.ok()) << c.status();
    d->expr = std::move(*c);
    return d;
  }

  PersonTable table_;
  EventSeq seq_ = 0;
  LiveAggregates aggregates_;
};

TEST_F(LiveAggregatesTest, UpdateSaysWhetherTheValueChanged) {
  auto d = Rule(0, R"(count("Buy", 30d) >= 1)");
  ASSERT_EQ(d->expr->aggregate_count(), 1u);
  TimeMs next = CompiledExpr::kNever;
  aggregates_.ClearColumnMarks();
  EXPECT_TRUE(aggregates_.Update(*d, 1, table_.Get(1), kNow, &next));
  EXPECT_LT(next, CompiledExpr::kNever);  // the purchase leaves the window
  const NumericIndex* column = aggregates_.Find(d->expr->aggregate_key(0));
  ASSERT_NE(column, nullptr);
  EXPECT_EQ(column->Get(1), 1.0);

  aggregates_.ClearColumnMarks();
  EXPECT_FALSE(aggregates_.Update(*d, 1, table_.Get(1), kNow, &next));
  Buy(1, kNow);
  aggregates_.ClearColumnMarks();
  EXPECT_TRUE(aggregates_.Update(*d, 1, table_.Get(1), kNow, &next));
  EXPECT_EQ(column->Get(1), 2.0);

  // A person no longer live loses the value.
  aggregates_.ClearColumnMarks();
  EXPECT_TRUE(aggregates_.Update(*d, 1, nullptr, kNow, &next));
  EXPECT_TRUE(std::isnan(column->Get(1)));
}

TEST_F(LiveAggregatesTest, SharedColumnIsUpdatedOncePerPerson) {
  auto a = Rule(0, R"(count("Buy", 30d) >= 1)");
  auto b = Rule(1, R"(count("Buy", 30d) >= 5)");
  TimeMs next = CompiledExpr::kNever;
  aggregates_.ClearColumnMarks();
  EXPECT_TRUE(aggregates_.Update(*a, 1, table_.Get(1), kNow, &next));
  ASSERT_EQ(a->columns.size(), 1u);
  ASSERT_EQ(b->expr->aggregate_count(), 1u);
  EXPECT_EQ(aggregates_.size(), 1u);
  // b reads the column a updated, and sees that it changed for this person.
  Buy(1, kNow);  // not seen until the marks are cleared
  EXPECT_TRUE(aggregates_.Update(*b, 1, table_.Get(1), kNow, &next));
  EXPECT_EQ(a->columns[0], b->columns[0]);
  EXPECT_EQ(b->columns[0]->Get(1), 1.0);
}

TEST_F(LiveAggregatesTest, ForgetAndPrune) {
  std::vector<std::unique_ptr<Definition>> defs;
  defs.push_back(Rule(0, R"(count("Buy", 30d) >= 1)"));
  defs.push_back(Rule(1, R"(count("Buy", 7d) >= 1)"));
  TimeMs next = CompiledExpr::kNever;
  for (auto& d : defs) {
    aggregates_.ClearColumnMarks();
    aggregates_.Update(*d, 1, table_.Get(1), kNow, &next);
  }
  EXPECT_EQ(aggregates_.size(), 2u);
  const std::string week = defs[1]->expr->aggregate_key(0);
  aggregates_.Forget(1);
  EXPECT_TRUE(std::isnan(aggregates_.Find(week)->Get(1)));

  aggregates_.Prune(defs);
  EXPECT_EQ(aggregates_.size(), 2u);
  defs[1].reset();
  aggregates_.Prune(defs);
  EXPECT_EQ(aggregates_.size(), 1u);
  EXPECT_EQ(aggregates_.Find(week), nullptr);
  EXPECT_NE(aggregates_.Find(defs[0]->expr->aggregate_key(0)), nullptr);
}

}  // namespace
}  // namespace facet::segments::internal
