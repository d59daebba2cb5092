// Identifiers from public (client) write keys: PII claims never link
// persons, and are confirmed only by a server source or by the person's
// own, already known user_id.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "identity/identity_graph.h"
#include "store/mem_kv_store.h"

namespace facet::identity {
namespace {

Identifier Uid(std::string v) { return {std::string(kUserId), std::move(v)}; }
Identifier Anon(std::string v) { return {std::string(kAnonymousId), std::move(v)}; }
Identifier Email(std::string v) { return {std::string(kEmail), std::move(v)}; }
Identifier Phone(std::string v) { return {std::string(kPhone), std::move(v)}; }

class IdentityTrustTest : public ::testing::Test {
 protected:
  IdentityTrustTest() : graph_(kv_, Options()) {}

  static IdentityOptions Options() {
    IdentityOptions o;
    o.hmac_key = "trust-test-key";
    return o;
  }

  ResolveResult Resolve(std::vector<Identifier> ids, SourceTrust trust, TimeMs at = 1000) {
    store::WriteBatch batch;
    absl::StatusOr<ResolveResult> r = graph_.Resolve(ids, at, "identify", &batch, trust);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_TRUE(kv_.Write(batch, true).ok());
    return *r;
  }

  std::vector<std::string> Namespaces(PersonId root) {
    std::vector<std::string> out;
    for (const Identifier& id : graph_.Identities(root)) out.push_back(id.ns);
    return out;
  }

  store::MemKvStore kv_;
  IdentityGraph graph_;
};

TEST_F(IdentityTrustTest, ClientEmailOfAnotherPersonDoesNotMerge) {
  ResolveResult victim = Resolve({Anon("v-device"), Email("victim@x.com")}, SourceTrust::kServer);
  ResolveResult attacker = Resolve({Anon("atk"), Email("victim@x.com")}, SourceTrust::kClient, 2000);
  EXPECT_NE(attacker.person, victim.person);
  EXPECT_TRUE(attacker.merges.empty());
  ASSERT_EQ(attacker.refusals.size(), 1u);
  absl::StatusOr<MergeRecord> refusal = graph_.GetMerge(attacker.refusals[0]);
  ASSERT_TRUE(refusal.ok());
  EXPECT_EQ(refusal->status, MergeStatus::kRefused);
  EXPECT_NE(refusal->detail.find("client write key"), std::string::npos) << refusal->detail;
  // The email still leads to the victim; the attacker holds it only as an
  // unverified claim.
  EXPECT_EQ(*graph_.Find(Email("victim@x.com")), victim.person);
  std::vector<Claim> claims = graph_.Claims(attacker.person);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].id.ns, "email");
  EXPECT_EQ(claims[0].id.value, "victim@x.com");
  EXPECT_TRUE(graph_.Claims(victim.person).empty());
}

TEST_F(IdentityTrustTest, UnknownClientEmailIsAClaimNotAnIdentifier) {
  ResolveResult p = Resolve({Anon("a1"), Email("new@x.com")}, SourceTrust::kClient);
  EXPECT_FALSE(graph_.Find(Email("new@x.com")).ok());
  EXPECT_EQ(Namespaces(p.person), (std::vector<std::string>{"anonymous_id"}));
  EXPECT_EQ(graph_.Claims(p.person).size(), 1u);
  // A second person claiming it is not linked to the first.
  ResolveResult other = Resolve({Anon("a2"), Email("new@x.com")}, SourceTrust::kClient);
  EXPECT_NE(other.person, p.person);
}

TEST_F(IdentityTrustTest, ServerSourceConfirmsAClaim) {
  ResolveResult p = Resolve({Anon("a1"), Email("li@x.com")}, SourceTrust::kClient);
  ResolveResult confirmed = Resolve({Anon("a1"), Email("li@x.com")}, SourceTrust::kServer, 2000);
  EXPECT_EQ(confirmed.person, p.person);
  EXPECT_EQ(*graph_.Find(Email("li@x.com")), p.person);
  EXPECT_TRUE(graph_.Claims(p.person).empty());
}

TEST_F(IdentityTrustTest, KnownUserIdConfirmsItsOwnPersonsClaim) {
  ResolveResult p = Resolve({Uid("u1"), Anon("a1")}, SourceTrust::kServer);
  // Signed in: the page sends the person's own user_id with a new phone.
  ResolveResult r = Resolve({Uid("u1"), Phone("+8613800138000")}, SourceTrust::kClient, 2000);
  EXPECT_EQ(r.person, p.person);
  EXPECT_EQ(*graph_.Find(Phone("+8613800138000")), p.person);
  EXPECT_TRUE(graph_.Claims(p.person).empty());
}

TEST_F(IdentityTrustTest, NewUserIdDoesNotConfirm) {
  // A user_id seen for the first time proves nothing about the email.
  ResolveResult r = Resolve({Uid("atk-uid"), Email("lead@x.com")}, SourceTrust::kClient);
  EXPECT_FALSE(graph_.Find(Email("lead@x.com")).ok());
  EXPECT_EQ(graph_.Claims(r.person).size(), 1u);
}

TEST_F(IdentityTrustTest, LeadCannotBeTakenOverByAClientUserId) {
  // A lead from the CRM: email only, no user_id.
  ResolveResult lead = Resolve({Email("lead@x.com")}, SourceTrust::kServer);
  ResolveResult atk = Resolve({Uid("atk-uid"), Email("lead@x.com")}, SourceTrust::kClient, 2000);
  EXPECT_NE(atk.person, lead.person);
  // Twice, now that atk-uid is known: still no link.
  ResolveResult again = Resolve({Uid("atk-uid"), Email("lead@x.com")}, SourceTrust::kClient, 3000);
  EXPECT_EQ(again.person, atk.person);
  EXPECT_EQ(*graph_.Find(Email("lead@x.com")), lead.person);
  EXPECT_EQ(Namespaces(lead.person), (std::vector<std::string>{"email"}));
  // The lead's real login, from the back-end, still links.
  ResolveResult login = Resolve({Uid("lead-uid"), Email("lead@x.com")}, SourceTrust::kServer, 4000);
  EXPECT_EQ(login.person, lead.person);
  EXPECT_TRUE(login.refusals.empty());
}

TEST_F(IdentityTrustTest, ClaimsSurviveARestart) {
  ResolveResult p = Resolve({Anon("a1"), Email("li@x.com")}, SourceTrust::kClient);
  IdentityGraph reloaded(kv_, Options());
  ASSERT_TRUE(reloaded.Load().ok());
  std::vector<Claim> claims = reloaded.Claims(p.person);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].id.value, "li@x.com");
  EXPECT_EQ(claims[0].at, 1000);
}

TEST_F(IdentityTrustTest, ClaimsPerPersonAreBounded) {
  ResolveResult p;
  for (int i = 0; i < 100; ++i) {
    p = Resolve({Anon("a1"), Email("e" + std::to_string(i) + "@x.com")}, SourceTrust::kClient, 1000 + i);
  }
  std::vector<Claim> claims = graph_.Claims(p.person);
  EXPECT_EQ(claims.size(), IdentityGraph::kMaxClaimsPerAtom);
  EXPECT_EQ(claims.back().id.value, "e99@x.com");  // the newest kept
}

}  // namespace
}  // namespace facet::identity
