#include "profiles/profile_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "profiles/internal/testing.h"
#include "store/key_codec.h"
#include "store/mem_kv_store.h"

namespace facet::profiles {
namespace {

using internal::ExpectSameProfile;

// Events for atoms in a fixed script: distinct timestamps and sequence numbers.
class EventScript {
 public:
  Event Track(PersonId person, std::string name, double revenue = 0) {
    Event e = Next(person, EventType::kTrack);
    e.name = std::move(name);
    if (revenue != 0) e.revenue = revenue;
    return e;
  }
  Event Identify(PersonId person, std::string key, std::string json) {
    Event e = Next(person, EventType::kIdentify);
    e.traits.emplace_back(std::move(key), std::move(json));
    return e;
  }

 private:
  Event Next(PersonId person, EventType type) {
    Event e;
    e.seq = ++seq_;
    e.person = person;
    e.type = type;
    e.timestamp = 1000 * static_cast<TimeMs>(seq_);
    return e;
  }
  EventSeq seq_ = 0;
};

Profile Applied(const std::vector<Event>& events) {
  Profile p;
  for (const Event& e : events) ApplyEvent(e, &p);
  return p;
}

TEST(ProfileStoreTest, UnknownPersonHasEmptyProfile) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EXPECT_TRUE(profiles.View(0).empty());
  EXPECT_TRUE(profiles.View(123456).empty());
  EXPECT_TRUE(profiles.View(kNoPerson).empty());
  EXPECT_EQ(profiles.watermark(), 0u);
  EXPECT_EQ(profiles.dirty_count(), 0u);
}

TEST(ProfileStoreTest, ApplyUpdatesTheAtomAndMarksItDirty) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EventScript s;
  std::vector<Event> events = {s.Track(3, "Viewed"), s.Identify(3, "plan", "\"pro\""), s.Track(3, "Paid", 9.5)};
  for (const Event& e : events) profiles.Apply(e, 3);
  ExpectSameProfile(profiles.View(3), Applied(events));
  EXPECT_TRUE(profiles.View(2).empty());
  EXPECT_EQ(profiles.dirty_count(), 1u);
}

TEST(ProfileStoreTest, MergeCombinesAndUndoGivesEachSideItsOwn) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EventScript s;
  std::vector<Event> a_events = {s.Identify(0, "plan", "\"free\""), s.Track(0, "Viewed")};
  std::vector<Event> b_events = {s.Identify(1, "plan", "\"pro\""), s.Track(1, "Paid", 20)};
  for (const Event& e : a_events) profiles.Apply(e, 0);
  for (const Event& e : b_events) profiles.Apply(e, 1);

  profiles.OnMerge(/*survivor_root=*/0, /*absorbed_root=*/1);
  std::vector<Event> all = a_events;
  all.insert(all.end(), b_events.begin(), b_events.end());
  ExpectSameProfile(profiles.View(0), Applied(all));
  EXPECT_EQ(profiles.View(0).traits.at("plan").json, "\"pro\"");

  // Events keep arriving for both atoms under the merged root.
  Event a_late = s.Identify(0, "plan", "\"team\"");
  Event b_late = s.Track(1, "Paid", 5);
  profiles.Apply(a_late, 0);
  profiles.Apply(b_late, 0);
  a_events.push_back(a_late);
  b_events.push_back(b_late);
  all.push_back(a_late);
  all.push_back(b_late);
  ExpectSameProfile(profiles.View(0), Applied(all));
  EXPECT_EQ(profiles.View(0).traits.at("plan").json, "\"team\"");

  // Undo: each side is a root with only its own atom again.
  std::vector<PersonId> a_members = {0};
  std::vector<PersonId> b_members = {1};
  profiles.RebuildView(0, a_members);
  profiles.RebuildView(1, b_members);
  ExpectSameProfile(profiles.View(0), Applied(a_events));
  ExpectSameProfile(profiles.View(1), Applied(b_events));
  EXPECT_EQ(profiles.View(1).traits.at("plan").json, "\"pro\"");
}

TEST(ProfileStoreTest, MergingMergedRootsCombinesAllAtoms) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EventScript s;
  std::vector<Event> all;
  for (PersonId p = 0; p < 4; ++p) {
    Event e = s.Track(p, "Event " + std::to_string(p), 1.0 + p);
    profiles.Apply(e, p);
    all.push_back(e);
  }
  profiles.OnMerge(0, 1);
  profiles.OnMerge(2, 3);
  profiles.OnMerge(2, 0);
  ExpectSameProfile(profiles.View(2), Applied(all));

  // Rebuilding from the atoms gives the same view.
  std::vector<PersonId> members = {2, 0, 1, 3};
  profiles.RebuildView(2, members);
  ExpectSameProfile(profiles.View(2), Applied(all));

  // Undo of the last merge: {2, 3} and {0, 1}.
  std::vector<PersonId> left = {2, 3};
  std::vector<PersonId> right = {0, 1};
  profiles.RebuildView(2, left);
  profiles.RebuildView(0, right);
  ExpectSameProfile(profiles.View(2), Applied({all[2], all[3]}));
  ExpectSameProfile(profiles.View(0), Applied({all[0], all[1]}));
}

TEST(ProfileStoreTest, ApplyUnderARootWithoutViewStartsOne) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EventScript s;
  Event root_event = s.Track(5, "Viewed");
  Event atom_event = s.Track(6, "Paid", 3);
  profiles.Apply(root_event, 5);
  profiles.Apply(atom_event, 5);
  ExpectSameProfile(profiles.View(5), Applied({root_event, atom_event}));
  ExpectSameProfile(profiles.View(6), Applied({atom_event}));
}

TEST(ProfileStoreTest, CheckpointAndLoadRoundTrip) {
  store::MemKvStore kv;
  EventScript s;
  std::vector<Event> p0 = {s.Identify(0, "name", "\"Zo\xC3\xAB\""), s.Track(0, "Paid", 12.5)};
  std::vector<Event> p7 = {s.Track(7, "Viewed")};
  {
    ProfileStore profiles(kv);
    ASSERT_TRUE(profiles.Load().ok());
    for (const Event& e : p0) profiles.Apply(e, 0);
    for (const Event& e : p7) profiles.Apply(e, 7);
    EXPECT_EQ(profiles.dirty_count(), 2u);
    store::WriteBatch batch;
    profiles.Checkpoint(3, &batch);
    EXPECT_EQ(batch.size(), 3u);  // two atoms and the watermark
    EXPECT_EQ(profiles.dirty_count(), 0u);
    EXPECT_EQ(profiles.watermark(), 3u);
    ASSERT_TRUE(kv.Write(batch, true).ok());

    // Only atoms changed since are written next time.
    Event more = s.Track(7, "Viewed");
    profiles.Apply(more, 7);
    p7.push_back(more);
    store::WriteBatch second;
    profiles.Checkpoint(4, &second);
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second.ops()[0].key, store::Fixed32Key(7));
    ASSERT_TRUE(kv.Write(second, true).ok());
  }
  ProfileStore loaded(kv);
  ASSERT_TRUE(loaded.Load().ok());
  EXPECT_EQ(loaded.watermark(), 4u);
  EXPECT_EQ(loaded.dirty_count(), 0u);
  ExpectSameProfile(loaded.View(0), Applied(p0));
  ExpectSameProfile(loaded.View(7), Applied(p7));
  EXPECT_TRUE(loaded.View(3).empty());
}

TEST(ProfileStoreTest, CheckpointInRoundsThenReplayGivesTheSameProfiles) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EventScript script;
  std::vector<Event> log;
  auto apply = [&](Event e) {
    profiles.Apply(e, e.person);
    log.push_back(std::move(e));
  };
  for (PersonId p = 0; p < 10; ++p) apply(script.Track(p, "Viewed", 1));
  const EventSeq round_upto = log.back().seq;

  store::WriteBatch batch;
  EXPECT_TRUE(profiles.CheckpointStep(round_upto, 4, &batch));       // atoms 0..3
  apply(script.Track(1, "Bought", 5));                               // after its atom was written
  apply(script.Track(8, "Bought", 7));                               // before its atom is written
  EXPECT_TRUE(profiles.CheckpointStep(log.back().seq, 4, &batch));   // the round goes on: 4..7
  EXPECT_FALSE(profiles.CheckpointStep(log.back().seq, 4, &batch));  // 8, 9 and the watermark
  EXPECT_EQ(profiles.watermark(), round_upto);
  EXPECT_EQ(profiles.dirty_count(), 2u);  // atoms 1 and 8, for the next round
  ASSERT_TRUE(kv.Write(batch, true).ok());

  // Recover: the checkpoint, then every event after its watermark.
  ProfileStore recovered(kv);
  ASSERT_TRUE(recovered.Load().ok());
  EXPECT_EQ(recovered.watermark(), round_upto);
  for (const Event& e : log) {
    if (e.seq > recovered.watermark()) recovered.Apply(e, e.person);
  }
  for (PersonId p = 0; p < 10; ++p) {
    SCOPED_TRACE(p);
    ExpectSameProfile(recovered.View(p), profiles.View(p));
  }
  EXPECT_EQ(recovered.View(8).event_count, 2u);  // its second event was not applied twice
}

TEST(ProfileStoreTest, LoadReplacesWhatWasInMemory) {
  store::MemKvStore kv;
  ProfileStore profiles(kv);
  EventScript s;
  profiles.Apply(s.Track(1, "Viewed"), 1);
  profiles.Apply(s.Track(2, "Viewed"), 1);
  ASSERT_TRUE(profiles.Load().ok());
  EXPECT_TRUE(profiles.View(1).empty());
  EXPECT_TRUE(profiles.View(2).empty());
  EXPECT_EQ(profiles.dirty_count(), 0u);
}

TEST(ProfileStoreTest, LoadOfCorruptProfileNamesThePerson) {
  store::MemKvStore kv;
  store::WriteBatch batch;
  batch.Put(store::Column::kProfiles, store::Fixed32Key(1), EncodeProfile(Profile{}));
  batch.Put(store::Column::kProfiles, store::Fixed32Key(42), EncodeProfile(Profile{}).substr(0, 3));
  ASSERT_TRUE(kv.Write(batch, true).ok());
  ProfileStore profiles(kv);
  absl::Status status = profiles.Load();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(status.message()).find("person 42"), std::string::npos) << status;
}

TEST(ProfileStoreTest, LoadOfMalformedKeyOrWatermarkIsDataLoss) {
  {
    store::MemKvStore kv;
    store::WriteBatch batch;
    batch.Put(store::Column::kProfiles, "abc", EncodeProfile(Profile{}));
    ASSERT_TRUE(kv.Write(batch, true).ok());
    ProfileStore profiles(kv);
    EXPECT_EQ(profiles.Load().code(), absl::StatusCode::kDataLoss);
  }
  {
    store::MemKvStore kv;
    store::WriteBatch batch;
    batch.Put(store::Column::kMeta, "profiles/watermark", "1234");
    ASSERT_TRUE(kv.Write(batch, true).ok());
    ProfileStore profiles(kv);
    EXPECT_EQ(profiles.Load().code(), absl::StatusCode::kDataLoss);
  }
  {
    // A corrupt id far beyond the known persons is refused, not allocated.
    store::MemKvStore kv;
    store::WriteBatch batch;
    batch.Put(store::Column::kProfiles, store::Fixed32Key(4000000000u), EncodeProfile(Profile{}));
    ASSERT_TRUE(kv.Write(batch, true).ok());
    ProfileStore profiles(kv);
    absl::Status s = profiles.Load(/*person_limit=*/10);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(s.message().find("4000000000"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace facet::profiles
