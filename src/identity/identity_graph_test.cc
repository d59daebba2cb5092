#include "identity/identity_graph.h"

#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "store/key_codec.h"
#include "store/mem_kv_store.h"

namespace facet::identity {
namespace {

using store::Column;

Identifier Uid(std::string v) { return {std::string(kUserId), std::move(v)}; }
Identifier Anon(std::string v) { return {std::string(kAnonymousId), std::move(v)}; }
Identifier Email(std::string v) { return {std::string(kEmail), std::move(v)}; }
Identifier Device(std::string v) { return {std::string(kDeviceId), std::move(v)}; }

IdentityOptions TestOptions() {
  IdentityOptions o;
  o.hmac_key = "graph-test-key";
  return o;
}

class IdentityGraphTest : public ::testing::Test {
 protected:
  IdentityGraphTest() : graph_(kv_, TestOptions()) {}

  // Resolves and writes the batch, as the ingest pipeline does.
  ResolveResult Resolve(std::initializer_list<Identifier> ids, TimeMs at = 1000) {
    std::vector<Identifier> v(ids);
    store::WriteBatch batch;
    absl::StatusOr<ResolveResult> r = graph_.Resolve(v, at, "identify", &batch);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    absl::Status w = kv_.Write(batch, true);
    EXPECT_TRUE(w.ok()) << w;
    return *r;
  }

  UndoResult Undo(uint64_t merge_id, TimeMs at = 5000) {
    store::WriteBatch batch;
    absl::StatusOr<UndoResult> r = graph_.UndoMerge(merge_id, at, &batch);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    absl::Status w = kv_.Write(batch, true);
    EXPECT_TRUE(w.ok()) << w;
    return *r;
  }

  PersonId FindOrDie(const Identifier& id) {
    absl::StatusOr<PersonId> p = graph_.Find(id);
    EXPECT_TRUE(p.ok()) << id.ns << "=" << id.value << ": " << p.status();
    return p.ok() ? *p : kNoPerson;
  }

  store::MemKvStore kv_;
  IdentityGraph graph_;
};

TEST_F(IdentityGraphTest, NewPersonsGetDenseIdsAndTheirIdentifiers) {
  ResolveResult a = Resolve({Anon("a1"), Device("d1")});
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.person, 0u);
  ResolveResult b = Resolve({Anon("a2")});
  EXPECT_TRUE(b.created);
  EXPECT_EQ(b.person, 1u);

  EXPECT_EQ(graph_.Identities(0), (std::vector<Identifier>{Anon("a1"), Device("d1")}));
  EXPECT_EQ(FindOrDie(Device("d1")), 0u);
  EXPECT_EQ(FindOrDie(Anon("a2")), 1u);
  EXPECT_TRUE(absl::IsNotFound(graph_.Find(Anon("nobody")).status()));
  EXPECT_EQ(graph_.person_count(), 2u);
  EXPECT_EQ(graph_.atom_count(), 2u);
  EXPECT_EQ(graph_.identity_count(), 3u);
  EXPECT_TRUE(graph_.IsRoot(1));
  EXPECT_FALSE(graph_.Exists(2));
  EXPECT_EQ(graph_.Root(7), kNoPerson);
}

TEST_F(IdentityGraphTest, EmptyOrInvalidIdentifiersAreRejected) {
  store::WriteBatch batch;
  EXPECT_TRUE(absl::IsInvalidArgument(graph_.Resolve({}, 1, "track", &batch).status()));
  std::vector<Identifier> empty_value = {Identifier{"user_id", ""}};
  EXPECT_TRUE(absl::IsInvalidArgument(graph_.Resolve(empty_value, 1, "track", &batch).status()));
  std::vector<Identifier> empty_ns = {Identifier{"", "x"}};
  EXPECT_TRUE(absl::IsInvalidArgument(graph_.Resolve(empty_ns, 1, "track", &batch).status()));
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(graph_.atom_count(), 0u);
}

TEST_F(IdentityGraphTest, RepeatedIdentifiersInOneCallAreIgnored) {
  ResolveResult r = Resolve({Anon("a1"), Anon("a1"), Email("e@x.com"), Anon("a1")});
  EXPECT_EQ(graph_.Identities(r.person), (std::vector<Identifier>{Anon("a1"), Email("e@x.com")}));
  EXPECT_EQ(graph_.identity_count(), 2u);
}

TEST_F(IdentityGraphTest, KnownPersonResolvesWithoutWrites) {
  ResolveResult first = Resolve({Anon("a1"), Device("d1")});
  store::WriteBatch batch;
  std::vector<Identifier> ids = {Device("d1"), Anon("a1")};
  absl::StatusOr<ResolveResult> again = graph_.Resolve(ids, 2000, "track", &batch);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->person, first.person);
  EXPECT_FALSE(again->created);
  EXPECT_TRUE(again->merges.empty());
  EXPECT_TRUE(batch.empty());
}

TEST_F(IdentityGraphTest, PrecomputedDigestsResolveLikeTheGraphsOwn) {
  ResolveResult first = Resolve({Anon("a1"), Device("d1")});
  // A copy of the pseudonymizer, as the ingest threads hold.
  const Pseudonymizer copy = graph_.pseudonymizer();
  std::vector<Identifier> ids = {Uid("u1"), Device("d1"), Email("e@x.com")};
  std::vector<IdentifierDigest> digests(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) copy.DigestInto(ids[i].ns, ids[i].value, digests[i]);
  store::WriteBatch batch;
  absl::StatusOr<ResolveResult> r = graph_.Resolve(ids, digests, 2000, "identify", &batch);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(kv_.Write(batch, true).ok());
  EXPECT_EQ(r->person, first.person);
  EXPECT_EQ(FindOrDie(Uid("u1")), first.person);
  EXPECT_EQ(FindOrDie(Email("e@x.com")), first.person);

  // The index holds the same pseudonyms the graph computes itself.
  ResolveResult again = Resolve({Email("e@x.com")});
  EXPECT_EQ(again.person, first.person);
  EXPECT_FALSE(again.created);
}

TEST_F(IdentityGraphTest, DigestsMustMatchTheIdentifiers) {
  std::vector<Identifier> ids = {Anon("a1"), Device("d1")};
  std::vector<IdentifierDigest> digests(1);
  store::WriteBatch batch;
  absl::StatusOr<ResolveResult> r = graph_.Resolve(ids, digests, 1000, "track", &batch);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(graph_.person_count(), 0u);
}

TEST_F(IdentityGraphTest, AnonymousVisitorIsIdentifiedInPlace) {
  ResolveResult anon = Resolve({Anon("a1")});
  ResolveResult identified = Resolve({Anon("a1"), Uid("u1")});
  EXPECT_EQ(identified.person, anon.person);
  EXPECT_FALSE(identified.created);
  EXPECT_TRUE(identified.merges.empty());
  EXPECT_EQ(FindOrDie(Uid("u1")), anon.person);
  EXPECT_EQ(graph_.Identities(anon.person), (std::vector<Identifier>{Anon("a1"), Uid("u1")}));
  EXPECT_EQ(graph_.person_count(), 1u);
}

TEST_F(IdentityGraphTest, SharedEmailMergesTwoPersons) {
  ResolveResult p0 = Resolve({Anon("a1"), Email("li@x.com")});
  ResolveResult p1 = Resolve({Anon("a2")});
  ASSERT_NE(p0.person, p1.person);

  // The target is the first known identifier's person: a2's.
  ResolveResult link = Resolve({Anon("a2"), Email("li@x.com")}, 3000);
  EXPECT_EQ(link.person, p1.person);
  ASSERT_EQ(link.merges.size(), 1u);
  EXPECT_EQ(link.absorbed, std::vector<PersonId>{p0.person});

  EXPECT_EQ(graph_.Root(p0.person), p1.person);
  EXPECT_FALSE(graph_.IsRoot(p0.person));
  EXPECT_EQ(FindOrDie(Anon("a1")), p1.person);
  EXPECT_EQ(graph_.Members(p1.person), (std::vector<PersonId>{p1.person, p0.person}));
  EXPECT_EQ(graph_.Identities(p1.person), (std::vector<Identifier>{Anon("a1"), Email("li@x.com"), Anon("a2")}));
  EXPECT_EQ(graph_.person_count(), 1u);
  EXPECT_EQ(graph_.merge_count(), 1u);

  absl::StatusOr<MergeRecord> m = graph_.GetMerge(link.merges[0]);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->status, MergeStatus::kMerged);
  EXPECT_EQ(m->survivor, p1.person);
  EXPECT_EQ(m->absorbed, p0.person);
  EXPECT_EQ(m->at, 3000);
  EXPECT_EQ(m->reason, "identify");
  EXPECT_EQ(m->via, Email("li@x.com"));
}

TEST_F(IdentityGraphTest, UserIdIsTrustedFirst) {
  ResolveResult anon = Resolve({Anon("a1")});
  ResolveResult user = Resolve({Uid("u1")});
  // user_id comes last in the call but decides the target.
  ResolveResult r = Resolve({Anon("a1"), Uid("u1")});
  EXPECT_EQ(r.person, user.person);
  EXPECT_EQ(r.absorbed, std::vector<PersonId>{anon.person});
}

TEST_F(IdentityGraphTest, ConflictingUserIdsAreRefusedAndLogged) {
  ResolveResult p0 = Resolve({Uid("u1"), Anon("a1")});
  ResolveResult p1 = Resolve({Uid("u2")});

  ResolveResult r = Resolve({Anon("a1"), Uid("u2")}, 4000);
  EXPECT_EQ(r.person, p1.person);
  EXPECT_TRUE(r.merges.empty());
  ASSERT_EQ(r.refusals.size(), 1u);
  EXPECT_EQ(graph_.person_count(), 2u);
  EXPECT_EQ(graph_.Root(p0.person), p0.person);
  EXPECT_EQ(graph_.refusal_count(), 1u);
  EXPECT_EQ(graph_.merge_count(), 0u);

  absl::StatusOr<MergeRecord> m = graph_.GetMerge(r.refusals[0]);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, MergeStatus::kRefused);
  EXPECT_EQ(m->survivor, p1.person);
  EXPECT_EQ(m->absorbed, p0.person);
  EXPECT_EQ(m->via, Anon("a1"));
  EXPECT_EQ(m->detail, "person already has user_id u2; user_id limit is 1");

  // The same link again reports the same log entry rather than a new one.
  ResolveResult again = Resolve({Anon("a1"), Uid("u2")}, 4500);
  EXPECT_EQ(again.refusals, r.refusals);
  EXPECT_EQ(graph_.refusal_count(), 1u);

  // Both persons see the refusal in their history.
  EXPECT_EQ(graph_.MergesOf(p0.person).size(), 1u);
  EXPECT_EQ(graph_.MergesOf(p1.person).size(), 1u);
}

TEST_F(IdentityGraphTest, NewUserIdOnAnotherUsersDeviceStartsItsOwnPerson) {
  // a1 belongs to u1; u2 signs in on the same device. u2 is the most trusted
  // identifier of the event, so the event goes to a new person holding u2,
  // and the link to u1's person is refused, never merged.
  ResolveResult p = Resolve({Uid("u1"), Anon("a1")});
  ResolveResult r = Resolve({Anon("a1"), Uid("u2")});
  EXPECT_TRUE(r.created);
  EXPECT_NE(r.person, p.person);
  EXPECT_EQ(FindOrDie(Uid("u2")), r.person);
  EXPECT_EQ(FindOrDie(Anon("a1")), p.person);
  ASSERT_EQ(r.refusals.size(), 1u);
  absl::StatusOr<MergeRecord> m = graph_.GetMerge(r.refusals[0]);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, MergeStatus::kRefused);
  EXPECT_EQ(m->survivor, r.person);
  EXPECT_EQ(m->absorbed, p.person);
  EXPECT_EQ(m->via, Anon("a1"));
  EXPECT_EQ(graph_.person_count(), 2u);
  EXPECT_EQ(graph_.Identities(r.person), (std::vector<Identifier>{Uid("u2")}));
}

TEST_F(IdentityGraphTest, IdentifiedPersonSurvivesAnAnonymousOne) {
  ResolveResult known = Resolve({Uid("u1"), Email("li@x.com")});
  ResolveResult anon = Resolve({Anon("a9")});
  // The anonymous visitor's identifier comes first, but u1's person survives.
  ResolveResult link = Resolve({Anon("a9"), Email("li@x.com")});
  EXPECT_EQ(link.person, known.person);
  ASSERT_EQ(link.absorbed, (std::vector<PersonId>{anon.person}));
  EXPECT_EQ(FindOrDie(Anon("a9")), known.person);
  EXPECT_EQ(FindOrDie(Uid("u1")), known.person);
  absl::StatusOr<MergeRecord> m = graph_.GetMerge(link.merges[0]);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->survivor, known.person);
  EXPECT_EQ(m->absorbed, anon.person);
}

TEST_F(IdentityGraphTest, TwoUserIdsForANewPersonKeepTheFirst) {
  ResolveResult r = Resolve({Uid("u1"), Uid("u2"), Anon("a1")});
  EXPECT_TRUE(r.created);
  EXPECT_EQ(r.refusals.size(), 1u);
  EXPECT_EQ(graph_.Identities(r.person), (std::vector<Identifier>{Uid("u1"), Anon("a1")}));
}

TEST(IdentityGraphCapTest, DeviceCapRefusesAttachAndMerge) {
  store::MemKvStore kv;
  IdentityOptions o = TestOptions();
  o.max_per_namespace["device_id"] = 2;
  IdentityGraph graph(kv, o);
  store::WriteBatch batch;

  std::vector<Identifier> first = {Anon("a1"), Device("d1"), Device("d2"), Device("d3")};
  absl::StatusOr<ResolveResult> r = graph.Resolve(first, 1, "track", &batch);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->refusals.size(), 1u);
  EXPECT_EQ(graph.GetMerge(r->refusals[0])->detail, "device_id limit 2 reached");
  EXPECT_EQ(graph.GetMerge(r->refusals[0])->via, Device("d3"));
  EXPECT_EQ(graph.GetMerge(r->refusals[0])->survivor, r->person);
  EXPECT_TRUE(absl::IsNotFound(graph.Find(Device("d3")).status()));

  std::vector<Identifier> second = {Anon("a2"), Device("d4")};
  absl::StatusOr<ResolveResult> r2 = graph.Resolve(second, 2, "track", &batch);
  ASSERT_TRUE(r2.ok());
  // Merging would give one person three devices.
  std::vector<Identifier> link = {Anon("a1"), Anon("a2")};
  absl::StatusOr<ResolveResult> r3 = graph.Resolve(link, 3, "alias", &batch);
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->merges.empty());
  ASSERT_EQ(r3->refusals.size(), 1u);
  EXPECT_EQ(graph.GetMerge(r3->refusals[0])->detail, "device_id limit 2 would be exceeded (2 + 1)");
  EXPECT_EQ(graph.person_count(), 2u);
  EXPECT_EQ(graph.refusal_count(), 2u);
}

TEST_F(IdentityGraphTest, UndoMergeRestoresBothSides) {
  ResolveResult p0 = Resolve({Uid("u1"), Email("li@x.com")});
  ResolveResult p1 = Resolve({Anon("a2"), Device("d2")});
  ResolveResult link = Resolve({Anon("a2"), Email("li@x.com")});
  ASSERT_EQ(link.merges.size(), 1u);

  // u1's person survives the anonymous one.
  EXPECT_EQ(link.person, p0.person);
  UndoResult u = Undo(link.merges[0], 7000);
  EXPECT_EQ(u.survivor_root, p0.person);
  EXPECT_EQ(u.restored, p1.person);
  EXPECT_TRUE(graph_.IsRoot(p1.person));
  EXPECT_EQ(graph_.Members(p1.person), std::vector<PersonId>{p1.person});
  EXPECT_EQ(graph_.Members(p0.person), std::vector<PersonId>{p0.person});
  EXPECT_EQ(graph_.Identities(p0.person), (std::vector<Identifier>{Uid("u1"), Email("li@x.com")}));
  EXPECT_EQ(graph_.Identities(p1.person), (std::vector<Identifier>{Anon("a2"), Device("d2")}));
  EXPECT_EQ(FindOrDie(Email("li@x.com")), p0.person);
  EXPECT_EQ(FindOrDie(Device("d2")), p1.person);
  EXPECT_EQ(graph_.person_count(), 2u);
  EXPECT_EQ(graph_.merge_count(), 0u);

  absl::StatusOr<MergeRecord> m = graph_.GetMerge(link.merges[0]);
  EXPECT_EQ(m->status, MergeStatus::kUndone);
  EXPECT_EQ(m->undone_at, 7000);

  // Caps are counted on the split persons again: p1 may take a user id.
  ResolveResult r = Resolve({Anon("a2"), Uid("u9")});
  EXPECT_TRUE(r.refusals.empty());
  EXPECT_EQ(FindOrDie(Uid("u9")), p1.person);
}

TEST_F(IdentityGraphTest, UndoErrors) {
  Resolve({Uid("u1"), Anon("a1")});
  Resolve({Uid("u2")});
  ResolveResult refused = Resolve({Uid("u2"), Anon("a1")});
  ASSERT_EQ(refused.refusals.size(), 1u);
  Resolve({Anon("a3")});
  ResolveResult merged = Resolve({Uid("u2"), Anon("a3")});
  ASSERT_EQ(merged.merges.size(), 1u);

  store::WriteBatch batch;
  EXPECT_TRUE(absl::IsNotFound(graph_.UndoMerge(0, 1, &batch).status()));
  EXPECT_TRUE(absl::IsNotFound(graph_.UndoMerge(99, 1, &batch).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(graph_.UndoMerge(refused.refusals[0], 1, &batch).status()));
  EXPECT_TRUE(batch.empty());
  Undo(merged.merges[0]);
  EXPECT_TRUE(absl::IsFailedPrecondition(graph_.UndoMerge(merged.merges[0], 1, &batch).status()));
}

class NestedUndoTest : public IdentityGraphTest {
 protected:
  // C merged into B, then B merged into A.
  void SetUp() override {
    a_ = Resolve({Anon("a")}).person;
    b_ = Resolve({Anon("b")}).person;
    c_ = Resolve({Anon("c"), Device("dc")}).person;
    ResolveResult cb = Resolve({Anon("b"), Anon("c")});
    ASSERT_EQ(cb.merges.size(), 1u);
    c_into_b_ = cb.merges[0];
    ResolveResult ba = Resolve({Anon("a"), Anon("b")});
    ASSERT_EQ(ba.merges.size(), 1u);
    b_into_a_ = ba.merges[0];
    ASSERT_EQ(graph_.Members(a_), (std::vector<PersonId>{a_, b_, c_}));
    ASSERT_EQ(graph_.Root(c_), a_);
  }

  PersonId a_ = kNoPerson, b_ = kNoPerson, c_ = kNoPerson;
  uint64_t c_into_b_ = 0, b_into_a_ = 0;
};

TEST_F(NestedUndoTest, OuterThenInner) {
  UndoResult u = Undo(b_into_a_);
  EXPECT_EQ(u.survivor_root, a_);
  EXPECT_EQ(u.restored, b_);
  EXPECT_EQ(graph_.Members(a_), std::vector<PersonId>{a_});
  EXPECT_EQ(graph_.Members(b_), (std::vector<PersonId>{b_, c_}));
  EXPECT_EQ(graph_.Root(c_), b_);
  EXPECT_EQ(FindOrDie(Device("dc")), b_);
  EXPECT_EQ(graph_.person_count(), 2u);

  u = Undo(c_into_b_);
  EXPECT_EQ(u.survivor_root, b_);
  EXPECT_EQ(u.restored, c_);
  EXPECT_EQ(graph_.Members(b_), std::vector<PersonId>{b_});
  EXPECT_EQ(graph_.Identities(c_), (std::vector<Identifier>{Anon("c"), Device("dc")}));
  EXPECT_EQ(FindOrDie(Device("dc")), c_);
  EXPECT_EQ(graph_.person_count(), 3u);
  EXPECT_EQ(graph_.merge_count(), 0u);
}

TEST_F(NestedUndoTest, InnerWhileNested) {
  UndoResult u = Undo(c_into_b_);
  EXPECT_EQ(u.survivor_root, a_);  // B still lives under A
  EXPECT_EQ(u.restored, c_);
  EXPECT_EQ(graph_.Members(a_), (std::vector<PersonId>{a_, b_}));
  EXPECT_EQ(graph_.Root(c_), c_);
  EXPECT_EQ(graph_.Identities(a_), (std::vector<Identifier>{Anon("a"), Anon("b")}));
  EXPECT_EQ(FindOrDie(Anon("c")), c_);
  EXPECT_EQ(graph_.person_count(), 2u);
}

TEST_F(NestedUndoTest, MergesOfCoversTheWholeTree) {
  std::vector<MergeRecord> log = graph_.MergesOf(a_);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].id, c_into_b_);
  EXPECT_EQ(log[1].id, b_into_a_);
  EXPECT_EQ(graph_.MergesOf(c_).size(), 1u);  // only the subtree of c
}

// Every observable fact about `g`, for comparing a graph with its reload.
std::string Describe(const IdentityGraph& g) {
  std::string out = "persons=" + std::to_string(g.person_count()) + " atoms=" + std::to_string(g.atom_count()) +
                    " ids=" + std::to_string(g.identity_count()) + " merges=" + std::to_string(g.merge_count()) +
                    " refusals=" + std::to_string(g.refusal_count()) + "\n";
  for (PersonId p = 0; p < g.atom_count(); ++p) {
    out += std::to_string(p) + " root=" + std::to_string(g.Root(p)) + " members=";
    for (PersonId m : g.Members(p)) out += std::to_string(m) + ",";
    out += " ids=";
    for (const Identifier& id : g.Identities(p)) {
      out += id.ns + ":" + id.value + "->" + std::to_string(*g.Find(id)) + ",";
    }
    out += " log=";
    for (const MergeRecord& m : g.MergesOf(p)) {
      out += std::to_string(m.id) + "/" + std::to_string(static_cast<int>(m.status)) + "/" +
             std::to_string(m.survivor) + "/" + std::to_string(m.absorbed) + "/" + std::to_string(m.at) + "/" +
             std::to_string(m.undone_at) + "/" + m.reason + "/" + m.via.ns + "=" + m.via.value + "/" + m.detail + ",";
    }
    out += "\n";
  }
  return out;
}

TEST_F(NestedUndoTest, LoadReproducesTheGraph) {
  Undo(c_into_b_);
  Resolve({Uid("u1"), Anon("a")});
  Resolve({Uid("u2"), Anon("c")});
  Resolve({Uid("u2"), Anon("a")});  // refused
  const std::string before = Describe(graph_);

  IdentityGraph reloaded(kv_, TestOptions());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(Describe(reloaded), before);

  // It continues where the original left off.
  std::vector<Identifier> ids = {Anon("new")};
  store::WriteBatch batch;
  absl::StatusOr<ResolveResult> r = reloaded.Resolve(ids, 9000, "track", &batch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->person, graph_.atom_count());
  std::vector<Identifier> conflict = {Uid("u2"), Anon("a")};
  r = reloaded.Resolve(conflict, 9000, "track", &batch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(reloaded.refusal_count(), graph_.refusal_count());  // logged once
}

TEST(IdentityGraphLoadTest, EmptyStoreLoadsEmpty) {
  store::MemKvStore kv;
  IdentityGraph g(kv, TestOptions());
  ASSERT_TRUE(g.Load().ok());
  EXPECT_EQ(g.atom_count(), 0u);
  EXPECT_EQ(g.person_count(), 0u);
}

class CorruptStoreTest : public IdentityGraphTest {
 protected:
  void SetUp() override {
    Resolve({Uid("u1"), Anon("a1")});
    Resolve({Anon("a2")});
    Resolve({Anon("a2"), Anon("a1")});
  }
  void Put(Column c, const std::string& key, const std::string& value) {
    store::WriteBatch b;
    b.Put(c, key, value);
    ASSERT_TRUE(kv_.Write(b, true).ok());
  }
  void Delete(Column c, const std::string& key) {
    store::WriteBatch b;
    b.Delete(c, key);
    ASSERT_TRUE(kv_.Write(b, true).ok());
  }
  absl::Status Load() {
    IdentityGraph g(kv_, TestOptions());
    return g.Load();
  }
};

TEST_F(CorruptStoreTest, IntactStoreLoads) { EXPECT_TRUE(Load().ok()); }

TEST_F(CorruptStoreTest, GarbagePersonRecordIsDataLoss) {
  Put(Column::kPersons, store::Fixed32Key(0), "\x01garbage");
  EXPECT_TRUE(absl::IsDataLoss(Load())) << Load();
}

TEST_F(CorruptStoreTest, TruncatedRecordsAreDataLoss) {
  for (Column c : {Column::kPersons, Column::kMerges}) {
    std::string key = c == Column::kPersons ? store::Fixed32Key(1) : store::Fixed64Key(1);
    absl::StatusOr<std::string> v = kv_.Get(c, key);
    ASSERT_TRUE(v.ok());
    const std::string full = *v;
    for (size_t n = 0; n < full.size(); ++n) {
      Put(c, key, full.substr(0, n));
      EXPECT_TRUE(absl::IsDataLoss(Load())) << "column " << static_cast<int>(c) << " len " << n;
    }
    Put(c, key, full + "x");
    EXPECT_TRUE(absl::IsDataLoss(Load()));
    Put(c, key, full);
    EXPECT_TRUE(Load().ok());
  }
}

TEST_F(CorruptStoreTest, HugeIdentifierCountIsDataLoss) {
  std::string rec(1, '\x01');
  store::PutFixed32BE(&rec, kNoPerson);
  store::PutFixed64BE(&rec, 0);
  store::PutFixed64BE(&rec, 0);
  store::PutFixed32BE(&rec, 0xffffffff);
  Put(Column::kPersons, store::Fixed32Key(1), rec);
  EXPECT_TRUE(absl::IsDataLoss(Load()));
}

TEST_F(CorruptStoreTest, MissingPersonIsDataLoss) {
  Delete(Column::kPersons, store::Fixed32Key(0));
  EXPECT_TRUE(absl::IsDataLoss(Load()));
}

TEST_F(CorruptStoreTest, MissingMergeIsDataLoss) {
  Delete(Column::kMerges, store::Fixed64Key(1));
  EXPECT_TRUE(absl::IsDataLoss(Load()));
}

TEST_F(CorruptStoreTest, BadIndexEntriesAreDataLoss) {
  Put(Column::kIdentities, "user_id", "x");
  EXPECT_TRUE(absl::IsDataLoss(Load()));
  Delete(Column::kIdentities, "user_id");
  std::string key = std::string("email") + '\0' + std::string(32, 'z');
  Put(Column::kIdentities, key, store::Fixed32Key(99));
  EXPECT_TRUE(absl::IsDataLoss(Load()));
  Put(Column::kIdentities, key, store::Fixed32Key(0));  // one entry too many
  EXPECT_TRUE(absl::IsDataLoss(Load()));
}

TEST_F(CorruptStoreTest, ParentWithoutMergeIsDataLoss) {
  // Make person 1's merge record name other persons.
  MergeRecord m = *graph_.GetMerge(1);
  absl::StatusOr<std::string> v = kv_.Get(Column::kMerges, store::Fixed64Key(1));
  ASSERT_TRUE(v.ok());
  std::string bad = *v;
  bad[1] = static_cast<char>(MergeStatus::kUndone);
  Put(Column::kMerges, store::Fixed64Key(1), bad);
  EXPECT_TRUE(absl::IsDataLoss(Load()));
  bad[1] = 7;  // unknown status
  Put(Column::kMerges, store::Fixed64Key(1), bad);
  EXPECT_TRUE(absl::IsDataLoss(Load()));
  EXPECT_EQ(m.status, MergeStatus::kMerged);
}

TEST_F(CorruptStoreTest, WrongKeyIsFailedPrecondition) {
  IdentityOptions o = TestOptions();
  o.hmac_key = "another-key";
  IdentityGraph g(kv_, o);
  EXPECT_TRUE(absl::IsFailedPrecondition(g.Load()));
}

TEST_F(CorruptStoreTest, FailedLoadKeepsPreviousState) {
  IdentityGraph g(kv_, TestOptions());
  ASSERT_TRUE(g.Load().ok());
  Put(Column::kPersons, store::Fixed32Key(0), "junk");
  EXPECT_FALSE(g.Load().ok());
  EXPECT_EQ(g.atom_count(), 2u);
  EXPECT_EQ(g.person_count(), 1u);
}

TEST_F(CorruptStoreTest, FlippedBytesNeverCrashLoad) {
  Resolve({Uid("u2"), Anon("a1")});  // a refusal in the log too
  std::mt19937 rng(42);
  for (Column c : {Column::kPersons, Column::kMerges, Column::kIdentities, Column::kMeta}) {
    std::vector<std::pair<std::string, std::string>> rows;
    std::unique_ptr<store::Iterator> it = kv_.NewIterator(c);
    for (it->SeekToFirst(); it->Valid(); it->Next()) rows.emplace_back(it->key(), it->value());
    for (const auto& [key, value] : rows) {
      for (int trial = 0; trial < 64 && !value.empty(); ++trial) {
        std::string bad = value;
        bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
        Put(c, key, bad);
        IdentityGraph g(kv_, TestOptions());
        absl::Status s = g.Load();
        if (s.ok()) {
          // Whatever loaded must be usable.
          for (PersonId p = 0; p < g.atom_count(); ++p) {
            g.Members(g.Root(p));
            g.MergesOf(p);
          }
        }
      }
      Put(c, key, value);
    }
  }
  EXPECT_TRUE(Load().ok());
}

TEST_F(IdentityGraphTest, CountersFollowMergesAndUndos) {
  Resolve({Anon("a")});
  Resolve({Anon("b")});
  Resolve({Anon("c")});
  EXPECT_EQ(graph_.person_count(), 3u);
  ResolveResult r = Resolve({Anon("a"), Anon("b"), Anon("c")});
  EXPECT_EQ(r.merges.size(), 2u);
  EXPECT_EQ(r.absorbed, (std::vector<PersonId>{1, 2}));
  EXPECT_EQ(graph_.person_count(), 1u);
  EXPECT_EQ(graph_.atom_count(), 3u);
  EXPECT_EQ(graph_.merge_count(), 2u);
  Undo(r.merges[1]);
  EXPECT_EQ(graph_.person_count(), 2u);
  EXPECT_EQ(graph_.merge_count(), 1u);
  EXPECT_EQ(graph_.refusal_count(), 0u);
}

}  // namespace
}  // namespace facet::identity
