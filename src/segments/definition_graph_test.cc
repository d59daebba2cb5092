#include "segments/internal/definition_graph.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "segments/person_table.h"
#include "store/kv_store.h"

namespace facet::segments::internal {
namespace {

class DefinitionGraphTest : public ::testing::Test {
 protected:
  // Compiles and installs a new rule tag; returns its id.
  uint32_t Put(std::string name, std::string rule, std::string parent = "") {
    auto d = std::make_unique<Definition>();
    d->id = graph_.next_id();
    d->slot = d->id;
    d->tag.name = std::move(name);
    d->tag.rule = std::move(rule);
    d->tag.parent = std::move(parent);
    absl::Status st = graph_.Compile(*d);
    EXPECT_TRUE(st.ok()) << st;
    return graph_.Install(std::move(d), nullptr, &batch_).id;
  }

  PersonTable table_;
  DefinitionGraph graph_{table_, EvalOptions{}};
  store::WriteBatch batch_;
};

TEST_F(DefinitionGraphTest, OrdersEveryDefinitionAfterWhatItReferences) {
  const uint32_t a = Put("a", "trait.x IS NULL");
  const uint32_t b = Put("b", R"(tag("a"))");
  const uint32_t c = Put("c", R"(tag("b") OR tag("a"))");
  EXPECT_EQ(graph_.Find(false, "a"), &graph_.at(a));
  EXPECT_EQ(graph_.Find(true, "a"), nullptr);
  const std::vector<uint32_t>& order = graph_.order();
  ASSERT_EQ(order.size(), 3u);
  auto pos = [&](uint32_t id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
  EXPECT_LT(pos(a), pos(b));
  EXPECT_LT(pos(b), pos(c));
  EXPECT_EQ(graph_.dependents()[a], std::vector<uint32_t>({b, c}));
  EXPECT_EQ(graph_.dependents()[b], std::vector<uint32_t>({c}));
  EXPECT_TRUE(graph_.Reaches(graph_.at(b).expr->refs(), a));
  EXPECT_FALSE(graph_.Reaches(graph_.at(a).expr->refs(), b));
}

TEST_F(DefinitionGraphTest, UnknownReferenceIsNotFound) {
  auto d = std::make_unique<Definition>();
  d->tag.rule = R"(tag("missing"))";
  EXPECT_EQ(graph_.Compile(*d).code(), absl::StatusCode::kNotFound);
  d->tag.rule = "count(\"x\", 90)";
  EXPECT_EQ(graph_.Compile(*d).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DefinitionGraphTest, RemoveRefusesWhileReferencedAndBumpsGeneration) {
  const uint32_t a = Put("a", "trait.x IS NULL");
  const uint32_t b = Put("b", R"(tag("a"))");
  const uint64_t generation = graph_.generation();
  EXPECT_EQ(graph_.Remove(graph_.at(a), &batch_).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(graph_.Find(false, "a"), nullptr);
  absl::StatusOr<std::unique_ptr<Definition>> removed = graph_.Remove(graph_.at(b), &batch_);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ((*removed)->tag.name, "b");
  EXPECT_EQ(graph_.defs()[b], nullptr);
  EXPECT_EQ(graph_.Find(false, "b"), nullptr);
  EXPECT_TRUE(graph_.dependents()[a].empty());
  EXPECT_GT(graph_.generation(), generation);
  EXPECT_EQ(graph_.next_id(), 2u);  // ids are not reused
}

TEST_F(DefinitionGraphTest, RecordsRoundTrip) {
  const uint32_t a = Put("a", "trait.x IS NULL", "");
  absl::StatusOr<std::unique_ptr<Definition>> back = DefinitionGraph::Decode(a, DefinitionGraph::Encode(graph_.at(a)));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->tag.name, "a");
  EXPECT_EQ((*back)->tag.rule, "trait.x IS NULL");
  EXPECT_EQ(DefinitionGraph::Decode(a, "junk").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(DefinitionGraphTest, DepthCountsLevelsUnderTheParent) {
  Put("a", "trait.x IS NULL");
  Put("b", "trait.x IS NULL", "a");
  EXPECT_EQ(graph_.Depth(""), 1);
  EXPECT_EQ(graph_.Depth("a"), 2);
  EXPECT_EQ(graph_.Depth("b"), 3);
}

}  // namespace
}  // namespace facet::segments::internal
