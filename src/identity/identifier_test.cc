#include "identity/identifier.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace facet::identity {
namespace {

IdentityOptions Options() {
  IdentityOptions o;
  o.hmac_key = "test-key";
  return o;
}

std::string Norm(std::string_view ns, std::string_view raw) {
  absl::StatusOr<std::string> v = Normalize(ns, raw, Options());
  EXPECT_TRUE(v.ok()) << ns << " '" << raw << "': " << v.status();
  return v.ok() ? *v : std::string();
}

bool IsInvalid(std::string_view ns, std::string_view raw) {
  return absl::IsInvalidArgument(Normalize(ns, raw, Options()).status());
}

TEST(NormalizeTest, EmailIsTrimmedAndLowerCased) {
  EXPECT_EQ(Norm("email", " Li.Lei@Example.COM"), "li.lei@example.com");
  EXPECT_EQ(Norm("email", "\tA@B.CN \n"), "a@b.cn");
}

TEST(NormalizeTest, EmailWithoutLocalAndDomainIsInvalid) {
  EXPECT_TRUE(IsInvalid("email", "no-at-sign"));
  EXPECT_TRUE(IsInvalid("email", "@example.com"));
  EXPECT_TRUE(IsInvalid("email", "a@"));
  EXPECT_TRUE(IsInvalid("email", "a@b@c.com"));
  EXPECT_TRUE(IsInvalid("email", "a@nodot"));
  EXPECT_TRUE(IsInvalid("email", "a b@example.com"));
}

TEST(NormalizeTest, NulByteIsInvalid) {
  EXPECT_TRUE(IsInvalid("user_id", std::string_view("u1\0x", 4)));
  EXPECT_EQ(Norm("user_id", "u1\x01\tx"), "u1\x01\tx");
}

TEST(NormalizeTest, PhoneBecomesE164WithDefaultCountry) {
  EXPECT_EQ(Norm("phone", "13800138000"), "+8613800138000");
  EXPECT_EQ(Norm("phone", " 138 0013 8000 "), "+8613800138000");
  EXPECT_EQ(Norm("phone", "+1 (415) 555-2671"), "+14155552671");
  EXPECT_EQ(Norm("phone", "0086 138 0013 8000"), "+8613800138000");
  EXPECT_EQ(Norm("phone", "010-1234-5678"), "+861012345678");
  EXPECT_EQ(Norm("phone", "+86.138.0013.8000"), "+8613800138000");
}

TEST(NormalizeTest, PhoneUsesConfiguredDefaultCountry) {
  IdentityOptions o = Options();
  o.default_country_code = "44";
  absl::StatusOr<std::string> v = Normalize("phone", "020 7946 0958", o);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "+442079460958");
}

TEST(NormalizeTest, BadPhoneIsInvalid) {
  EXPECT_TRUE(IsInvalid("phone", "abc"));
  EXPECT_TRUE(IsInvalid("phone", "12345"));              // too short
  EXPECT_TRUE(IsInvalid("phone", "+1234567890123456"));  // 16 digits
  EXPECT_TRUE(IsInvalid("phone", "138+00138000"));       // '+' inside
  EXPECT_TRUE(IsInvalid("phone", "+"));
}

TEST(NormalizeTest, ErrorNamesTheNamespace) {
  absl::Status s = Normalize("phone", "abc", Options()).status();
  EXPECT_NE(std::string(s.message()).find("phone"), std::string::npos) << s;
}

TEST(NormalizeTest, OtherNamespacesAreOnlyTrimmed) {
  EXPECT_EQ(Norm("user_id", "  U-42 "), "U-42");
  EXPECT_EQ(Norm("device_id", "ABC"), "ABC");
}

TEST(NormalizeTest, EmptyOrTooLongIsInvalid) {
  EXPECT_TRUE(IsInvalid("user_id", ""));
  EXPECT_TRUE(IsInvalid("user_id", "   "));
  EXPECT_TRUE(IsInvalid("user_id", std::string(513, 'x')));
  EXPECT_EQ(Norm("user_id", std::string(512, 'x')).size(), 512u);
  EXPECT_TRUE(IsInvalid("", "x"));
}

TEST(IsPiiTest, FollowsOptions) {
  IdentityOptions o = Options();
  EXPECT_TRUE(IsPii("email", o));
  EXPECT_TRUE(IsPii("phone", o));
  EXPECT_FALSE(IsPii("user_id", o));
  o.pii_namespaces.push_back("user_id");
  EXPECT_TRUE(IsPii("user_id", o));
}

TEST(PseudonymizerTest, MatchesKnownHmacSha256) {
  // HMAC-SHA256("key", "email\0a@b.c"), computed with `openssl dgst -hmac`.
  Pseudonymizer p("key");
  EXPECT_EQ(p.HexDigest("email", "a@b.c"), "f391861751f0375afa79dc2e2de727fb9147d625cb61e1f7d5500d882bb593d7");
  EXPECT_EQ(p.Digest("email", "a@b.c").size(), 32u);
}

TEST(PseudonymizerTest, DigestsDifferByNamespaceAndKey) {
  Pseudonymizer a("key-a");
  Pseudonymizer b("key-b");
  EXPECT_EQ(a.Digest("user_id", "42"), a.Digest("user_id", "42"));
  EXPECT_NE(a.Digest("user_id", "42"), a.Digest("device_id", "42"));
  EXPECT_NE(a.Digest("user_id", "42"), b.Digest("user_id", "42"));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(a.Digest("ab", "c"), a.Digest("a", "bc"));
}

TEST(PseudonymizerTest, CopiesAndMovesKeepTheKey) {
  Pseudonymizer a("k");
  const std::string d = a.Digest("email", "x@y.z");
  Pseudonymizer copy(a);
  EXPECT_EQ(copy.Digest("email", "x@y.z"), d);
  Pseudonymizer moved(std::move(copy));
  EXPECT_EQ(moved.Digest("email", "x@y.z"), d);
  Pseudonymizer assigned("other");
  assigned = a;
  EXPECT_EQ(assigned.Digest("email", "x@y.z"), d);
}

TEST(PseudonymizerTest, EmptyKeyAndLongValuesWork) {
  Pseudonymizer p("");
  EXPECT_EQ(p.HexDigest("n", std::string(10000, 'v')).size(), 64u);
}

TEST(PseudonymizerTest, ConcurrentDigestsAgree) {
  Pseudonymizer p("shared");
  const std::string want = p.Digest("device_id", "d1");
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) bad[t] += p.Digest("device_id", "d1") != want;
    });
  }
  for (auto& th : threads) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

TEST(IsPiiTraitTest, NameVariantsOfPersonalDataArePii) {
  IdentityOptions o;
  for (const char* path : {"email", "Email", "EMAIL", "contact.email", "mobile", "emailAddress", "phone_number",
                           "contact.Mobile-Phone", "wechat_openid", "profile.tel"}) {
    EXPECT_TRUE(IsPiiTrait(path, o)) << path;
  }
  for (const char* path : {"city", "age", "hotel", "plan", "address.city", "telemetry_level"}) {
    EXPECT_FALSE(IsPiiTrait(path, o)) << path;
  }
  o.pii_trait_words = {"secret"};
  EXPECT_TRUE(IsPiiTrait("my_secret", o));
  EXPECT_FALSE(IsPiiTrait("mobile", o));
  EXPECT_TRUE(IsPiiTrait("email", o));  // still a PII namespace
}

}  // namespace
}  // namespace facet::identity
