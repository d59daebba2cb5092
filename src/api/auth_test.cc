#include "api/auth.h"

#include <gtest/gtest.h>

namespace facet::api {
namespace {

// "Basic " + base64(user:password) for the tests' fixed keys.
constexpr std::string_view kBasicWrite = "Basic d2tfMTo=";                // "wk_1:"
constexpr std::string_view kBasicWriteWithPw = "Basic d2tfMTpzZWNyZXQ=";  // "wk_1:secret"
constexpr std::string_view kBasicUnknown = "Basic bm9wZTo=";              // "nope:"
constexpr std::string_view kBasicAdmin = "Basic YWtfMTo=";                // "ak_1:"

KeyRing Keys() { return KeyRing({"wk_1", "wk_2", ""}, {"ak_1"}); }

TEST(AuthTest, Base64) {
  std::string out;
  ASSERT_TRUE(Base64Decode("d2tfMTo=", &out));
  EXPECT_EQ(out, "wk_1:");
  ASSERT_TRUE(Base64Decode("d2tfMTo", &out));  // padding optional
  EXPECT_EQ(out, "wk_1:");
  EXPECT_FALSE(Base64Decode("d2t*MTo=", &out));
  EXPECT_FALSE(Base64Decode("a", &out));
}

TEST(AuthTest, ParsesSchemes) {
  Credentials c = ParseAuthorization("Bearer ak_1");
  EXPECT_EQ(c.scheme, Credentials::Scheme::kBearer);
  EXPECT_EQ(c.key, "ak_1");
  c = ParseAuthorization("bearer   ak_1  ");
  EXPECT_EQ(c.scheme, Credentials::Scheme::kBearer);
  EXPECT_EQ(c.key, "ak_1");
  c = ParseAuthorization(kBasicWriteWithPw);
  EXPECT_EQ(c.scheme, Credentials::Scheme::kBasic);
  EXPECT_EQ(c.key, "wk_1");
  EXPECT_EQ(ParseAuthorization("").scheme, Credentials::Scheme::kNone);
  EXPECT_EQ(ParseAuthorization("Bearer").scheme, Credentials::Scheme::kNone);
  EXPECT_EQ(ParseAuthorization("Digest x").scheme, Credentials::Scheme::kNone);
  EXPECT_EQ(ParseAuthorization("Basic !!!").scheme, Credentials::Scheme::kNone);
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", std::string("abc\0", 4)));
}

TEST(AuthTest, Classify) {
  KeyRing keys = Keys();
  EXPECT_EQ(keys.Classify("wk_1"), Role::kWrite);
  EXPECT_EQ(keys.Classify("wk_2"), Role::kWrite);
  EXPECT_EQ(keys.Classify("ak_1"), Role::kAdmin);
  EXPECT_EQ(keys.Classify("wk_3"), Role::kNone);
  EXPECT_EQ(keys.Classify(""), Role::kNone);  // the empty configured key is ignored
}

TEST(AuthTest, IngestAcceptsWriteKeysAsBasicOrBodyAndAdminKeys) {
  KeyRing keys = Keys();
  EXPECT_TRUE(AuthorizeIngest(keys, kBasicWrite, "").ok());
  EXPECT_TRUE(AuthorizeIngest(keys, kBasicWriteWithPw, "").ok());
  EXPECT_TRUE(AuthorizeIngest(keys, "", "wk_2").ok());
  EXPECT_TRUE(AuthorizeIngest(keys, kBasicUnknown, "wk_2").ok());
  EXPECT_TRUE(AuthorizeIngest(keys, "Bearer ak_1", "").ok());
  EXPECT_TRUE(AuthorizeIngest(keys, kBasicAdmin, "").ok());
}

TEST(AuthTest, IngestRefusesMissingOrUnknownKeys) {
  KeyRing keys = Keys();
  absl::Status s = AuthorizeIngest(keys, "", "").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(), "unknown write key");
  EXPECT_EQ(AuthorizeIngest(keys, kBasicUnknown, "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthorizeIngest(keys, "Bearer nope", "nope").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthTest, IngestSourcesCarryTheirKeysTrust) {
  KeyRing keys({"wk_1"}, {"ak_1"}, {"swk_1"});
  absl::StatusOr<IngestSource> client = AuthorizeIngest(keys, "", "wk_1");
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->trust, identity::SourceTrust::kClient);
  EXPECT_EQ(client->key, "wk_1");
  EXPECT_EQ(AuthorizeIngest(keys, "", "swk_1")->trust, identity::SourceTrust::kServer);
  EXPECT_EQ(AuthorizeIngest(keys, "Bearer ak_1", "")->trust, identity::SourceTrust::kServer);
  EXPECT_EQ(keys.Classify("swk_1"), Role::kServerWrite);
  // A server write key may only send events, too.
  EXPECT_EQ(AuthorizeAdmin(keys, "Bearer swk_1").code(), absl::StatusCode::kPermissionDenied);
}

TEST(AuthTest, AdminNeedsBearerAdminKey) {
  KeyRing keys = Keys();
  EXPECT_TRUE(AuthorizeAdmin(keys, "Bearer ak_1").ok());
  EXPECT_EQ(AuthorizeAdmin(keys, "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthorizeAdmin(keys, "Bearer nope").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthorizeAdmin(keys, kBasicAdmin).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthTest, WriteKeyOnAdminEndpointIsForbidden) {
  KeyRing keys = Keys();
  absl::Status s = AuthorizeAdmin(keys, "Bearer wk_1");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "write keys may only send events");
  EXPECT_EQ(AuthorizeAdmin(keys, kBasicWrite).code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace facet::api
