#include "segments/catalog.h"

#include <chrono>
#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "segments/internal/catalog_record.h"
#include "store/mem_kv_store.h"

namespace facet::segments {
namespace {

constexpr TimeMs kNow = 1767225600000;

TagDef Rule(std::string name, std::string rule, std::string parent = "") {
  TagDef t;
  t.name = std::move(name);
  t.rule = std::move(rule);
  t.parent = std::move(parent);
  return t;
}

class CatalogTest : public ::testing::Test {
 protected:
  CatalogTest() {
    for (PersonId p = 0; p < 4; ++p) table_.Touch(p);
  }
  absl::Status Put(const TagDef& t) { return catalog_.PutTag(t, kNow, &batch_); }

  store::MemKvStore kv_;
  PersonTable table_;
  Catalog catalog_{kv_, table_};
  store::WriteBatch batch_;
};

TEST_F(CatalogTest, HierarchyIsAtMostFourLevels) {
  ASSERT_TRUE(Put(Rule("a", "trait.x IS NULL")).ok());
  ASSERT_TRUE(Put(Rule("b", "trait.x IS NULL", "a")).ok());
  ASSERT_TRUE(Put(Rule("c", "trait.x IS NULL", "b")).ok());
  ASSERT_TRUE(Put(Rule("d", "trait.x IS NULL", "c")).ok());
  absl::Status fifth = Put(Rule("e", "trait.x IS NULL", "d"));
  EXPECT_EQ(fifth.code(), absl::StatusCode::kInvalidArgument) << fifth;
  EXPECT_EQ(Put(Rule("f", "trait.x IS NULL", "nope")).code(), absl::StatusCode::kNotFound);
  // A parent may not become its own descendant.
  EXPECT_EQ(Put(Rule("a", "trait.x IS NULL", "d")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_.ListTags().size(), 4u);
  EXPECT_EQ(catalog_.DeleteTag("c", &batch_).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(catalog_.DeleteTag("d", &batch_).ok());
  EXPECT_EQ(catalog_.DeleteTag("d", &batch_).code(), absl::StatusCode::kNotFound);
}

TEST_F(CatalogTest, ReferencesMustExistAndMayNotCycle) {
  EXPECT_EQ(Put(Rule("a", R"(tag("missing"))")).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(Put(Rule("a", "trait.x IS NULL")).ok());
  ASSERT_TRUE(Put(Rule("b", R"(tag("a"))")).ok());
  absl::Status cycle = Put(Rule("a", R"(NOT tag("b"))"));
  EXPECT_EQ(cycle.code(), absl::StatusCode::kFailedPrecondition) << cycle;
  EXPECT_EQ(Put(Rule("b", R"(tag("b"))")).code(), absl::StatusCode::kFailedPrecondition);
  // A referenced tag cannot be deleted.
  EXPECT_EQ(catalog_.DeleteTag("a", &batch_).code(), absl::StatusCode::kFailedPrecondition);
  absl::Status parse = Put(Rule("c", "count(\"x\", 90)"));
  EXPECT_EQ(parse.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(parse.message()).find("line 1, column"), std::string::npos) << parse;
  EXPECT_EQ(Put(Rule("bad/name", "trait.x IS NULL")).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, ManualTagsTakeMembersRuleTagsDoNot) {
  TagDef manual;
  manual.name = "staff_pick";
  manual.kind = TagKind::kManual;
  ASSERT_TRUE(Put(manual).ok());
  ASSERT_TRUE(Put(Rule("everyone", "trait.x IS NULL")).ok());
  std::vector<PersonId> some = {1, 3};
  EXPECT_EQ(*catalog_.AddMembers("staff_pick", some, kNow, &batch_), 2u);
  EXPECT_EQ(*catalog_.AddMembers("staff_pick", some, kNow, &batch_), 0u);
  EXPECT_EQ((*catalog_.TagMembers("staff_pick"))->ToVector(), some);
  EXPECT_EQ(catalog_.AddMembers("everyone", some, kNow, &batch_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*catalog_.RemoveMembers("staff_pick", std::vector<PersonId>{3}, kNow, &batch_), 1u);
  EXPECT_EQ((*catalog_.TagMembers("staff_pick"))->ToVector(), std::vector<PersonId>{1});
  TagDef rule_with_members = Rule("staff_pick", "trait.x IS NULL");
  EXPECT_EQ(Put(rule_with_members).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CatalogTest, RedefiningAManualTagKeepsMembersFollowedThroughMerges) {
  TagDef manual;
  manual.name = "staff_pick";
  manual.kind = TagKind::kManual;
  ASSERT_TRUE(Put(manual).ok());
  ASSERT_TRUE(catalog_.AddMembers("staff_pick", std::vector<PersonId>{1}, kNow, &batch_).ok());
  table_.Merge(0, 1);
  catalog_.OnMerge(0, 1, kNow, &batch_);
  EXPECT_EQ((*catalog_.TagMembers("staff_pick"))->ToVector(), std::vector<PersonId>{0});
  manual.description = "picked by the shop";
  ASSERT_TRUE(Put(manual).ok());
  EXPECT_EQ((*catalog_.TagMembers("staff_pick"))->ToVector(), std::vector<PersonId>{0});
}

TEST_F(CatalogTest, CorruptRecordsAreDataLoss) {
  ASSERT_TRUE(Put(Rule("a", "trait.x IS NULL")).ok());
  ASSERT_TRUE(kv_.Write(batch_, true).ok());
  // Truncate the stored definition.
  auto it = kv_.NewIterator(store::Column::kCatalog);
  std::string key;
  std::string value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().starts_with("def/")) {
      key = std::string(it->key());
      value = std::string(it->value());
    }
  }
  ASSERT_FALSE(key.empty());
  store::WriteBatch corrupt;
  corrupt.Put(store::Column::kCatalog, key, value.substr(0, value.size() - 3));
  ASSERT_TRUE(kv_.Write(corrupt, true).ok());
  Catalog reloaded(kv_, table_);
  store::WriteBatch b;
  EXPECT_EQ(reloaded
                .Load(
                    kNow, [](PersonId p) { return p; }, &b)
                .code(),
            absl::StatusCode::kDataLoss);
}

// After a crash, start-up records only what differs from what was last
// recorded: the snapshot plus the changes written after it.
TEST_F(CatalogTest, RestartAfterACrashRecordsNoChangeTwice) {
  auto set_age = [&](PersonId p, int age, store::WriteBatch* batch) {
    std::map<std::string, profiles::TraitValue, std::less<>> traits;
    traits["age"].json = std::to_string(age);
    std::vector<uint32_t> keys;
    table_.SetTraits(p, traits, &keys);
    catalog_.OnEvent(p, StringPool::kNone, keys, false, kNow, batch);
  };
  for (PersonId p = 0; p < 4; ++p) set_age(p, 20, &batch_);
  ASSERT_TRUE(Put(Rule("over30", "trait.age > 30")).ok());
  catalog_.Snapshot(&batch_);
  ASSERT_TRUE(kv_.Write(batch_, true).ok());
  // Changes recorded after the snapshot, then a crash (no snapshot).
  store::WriteBatch after;
  set_age(1, 40, &after);
  set_age(2, 45, &after);
  set_age(2, 25, &after);
  ASSERT_EQ(catalog_.change_count(), 3u);
  ASSERT_TRUE(kv_.Write(after, true).ok());
  auto same = [](PersonId p) { return p; };
  {
    Catalog restarted(kv_, table_);
    store::WriteBatch batch;
    ASSERT_TRUE(restarted.Load(kNow, same, &batch).ok());
    EXPECT_EQ(restarted.change_count(), 0u);
    EXPECT_EQ((*restarted.TagMembers("over30"))->ToVector(), std::vector<PersonId>{1});
  }
  // A difference the log does not hold (here: a trait changed while the
  // catalog was not running) is recorded once.
  std::map<std::string, profiles::TraitValue, std::less<>> traits;
  traits["age"].json = "50";
  table_.SetTraits(3, traits);
  Catalog restarted(kv_, table_);
  store::WriteBatch batch;
  ASSERT_TRUE(restarted.Load(kNow, same, &batch).ok());
  EXPECT_EQ(restarted.change_count(), 1u);
  ASSERT_TRUE(kv_.Write(batch, true).ok());
  absl::StatusOr<std::vector<MembershipChange>> changes = restarted.Changes(false, "over30", 0, 0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 4u);
  EXPECT_EQ(changes->back().person, 3u);
  EXPECT_TRUE(changes->back().entered);
  EXPECT_GT(changes->back().seq, (*changes)[2].seq);
}

TEST(CatalogRecordTest, RoundTripAndRejects) {
  TagDef t;
  t.name = "高价值客户";
  t.display_name = "High value";
  t.parent = "价值";
  t.kind = TagKind::kModel;
  t.created_at = -5;
  t.updated_at = kNow;
  std::string bytes = internal::EncodeCatalogRecord(false, t, SegmentDef{});
  bool is_segment = true;
  TagDef back;
  SegmentDef unused;
  ASSERT_TRUE(internal::DecodeCatalogRecord(bytes, &is_segment, &back, &unused));
  EXPECT_FALSE(is_segment);
  EXPECT_EQ(back.name, t.name);
  EXPECT_EQ(back.parent, t.parent);
  EXPECT_EQ(back.kind, TagKind::kModel);
  EXPECT_EQ(back.created_at, -5);
  EXPECT_EQ(back.updated_at, kNow);
  EXPECT_FALSE(internal::DecodeCatalogRecord(bytes + "x", &is_segment, &back, &unused));
  EXPECT_FALSE(internal::DecodeCatalogRecord(bytes.substr(0, 10), &is_segment, &back, &unused));
  EXPECT_FALSE(internal::DecodeCatalogRecord("X", &is_segment, &back, &unused));
  bytes[1] = 9;  // unknown kind
  EXPECT_FALSE(internal::DecodeCatalogRecord(bytes, &is_segment, &back, &unused));
}

TEST(CatalogSlicingTest, SlicedEvaluationGivesTheSameAnswerAndYields) {
  store::MemKvStore kv;
  PersonTable table;
  for (PersonId p = 0; p < 20000; ++p) {
    std::map<std::string, profiles::TraitValue, std::less<>> traits;
    traits["age"].json = std::to_string(p % 90);
    table.SetTraits(p, traits);
  }
  Catalog catalog(kv, table);
  store::WriteBatch batch;
  ASSERT_TRUE(catalog.PutTag(Rule("old", "trait.age >= 60"), kNow, &batch).ok());
  const std::string expr = R"(tag("old") OR trait.age < 3)";
  absl::StatusOr<bitmap::Bitmap> whole = catalog.Evaluate(expr, std::nullopt, kNow);
  ASSERT_TRUE(whole.ok()) << whole.status();
  int yields = 0;
  EvalSlicing slicing;
  slicing.slice_ms = 1;
  slicing.yield = [&] {
    // The writer's turn: a definition it uses is replaced meanwhile.
    if (++yields == 1) ASSERT_TRUE(catalog.PutTag(Rule("old", "trait.age >= 60"), kNow, &batch).ok());
  };
  absl::StatusOr<bitmap::Bitmap> sliced = catalog.Evaluate(expr, std::nullopt, kNow, slicing);
  ASSERT_TRUE(sliced.ok()) << sliced.status();
  EXPECT_EQ(*sliced, *whole);
  EXPECT_EQ(sliced->Cardinality(), 7329u);  // ages 60..89 and 0..2 of 0..89 repeated
  EXPECT_GT(yields, 0);
}

TEST(CatalogSlicingTest, PastItsBudgetAnEvaluationStops) {
  store::MemKvStore kv;
  PersonTable table;
  for (PersonId p = 0; p < 2000; ++p) table.Touch(p);
  CatalogOptions options;
  options.eval_budget_ms = 1;
  Catalog catalog(kv, table, options);
  EvalSlicing slicing;
  slicing.yield = [] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
  absl::StatusOr<bitmap::Bitmap> r = catalog.Evaluate("trait.x IS NULL", std::nullopt, kNow, slicing);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("budget of 1 ms"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace facet::segments
