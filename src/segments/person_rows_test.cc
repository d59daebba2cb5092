#include "segments/internal/person_rows.h"

#include "gtest/gtest.h"

namespace facet::segments::internal {
namespace {

TEST(PersonRowsTest, UnwrittenPersonsAreInNothingAndNeverWake) {
  PersonRows rows;
  rows.ReserveSlots(10);
  EXPECT_FALSE(rows.Member(7, 3));
  EXPECT_FALSE(rows.Member(5'000'000, 9));
  EXPECT_EQ(rows.Wake(7), PersonRows::kNoWake);
  EXPECT_EQ(rows.MemoryBytes() / 1024, 0u);  // nothing allocated yet
  rows.SetWake(9, PersonRows::kNoWake);      // clearing allocates nothing
  EXPECT_EQ(rows.MemoryBytes() / 1024, 0u);
}

TEST(PersonRowsTest, SetMemberSaysWhetherItChanged) {
  PersonRows rows;
  rows.ReserveSlots(3);
  EXPECT_TRUE(rows.SetMember(42, 2, true));
  EXPECT_FALSE(rows.SetMember(42, 2, true));
  EXPECT_TRUE(rows.Member(42, 2));
  EXPECT_FALSE(rows.Member(42, 1));
  EXPECT_FALSE(rows.Member(43, 2));
  EXPECT_TRUE(rows.SetMember(42, 2, false));
  EXPECT_FALSE(rows.SetMember(42, 2, false));
  EXPECT_FALSE(rows.Member(42, 2));
}

TEST(PersonRowsTest, WideningKeepsBitsAndWakeUpsInEveryBlock) {
  PersonRows rows;
  rows.ReserveSlots(64);
  EXPECT_EQ(rows.slots(), 64u);
  const PersonId persons[] = {0, 65535, 65536, 1'000'003};
  for (PersonId p : persons) {
    rows.SetMember(p, 0, true);
    rows.SetMember(p, 63, true);
    rows.SetWake(p, 1000 + p);
  }
  rows.ReserveSlots(200);
  EXPECT_EQ(rows.slots(), 256u);
  for (PersonId p : persons) {
    EXPECT_TRUE(rows.Member(p, 0)) << p;
    EXPECT_TRUE(rows.Member(p, 63)) << p;
    EXPECT_FALSE(rows.Member(p, 64)) << p;
    EXPECT_EQ(rows.Wake(p), 1000 + p) << p;
    EXPECT_TRUE(rows.SetMember(p, 199, true));
  }
  EXPECT_FALSE(rows.Member(1, 0));
  EXPECT_FALSE(rows.Member(1'000'004, 199));
  rows.ReserveSlots(10);  // never narrows
  EXPECT_EQ(rows.slots(), 256u);
  EXPECT_TRUE(rows.Member(1'000'003, 199));
}

}  // namespace
}  // namespace facet::segments::internal
