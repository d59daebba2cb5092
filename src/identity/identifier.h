// Identifiers, their namespaces and normalisation.
//
//   IdentityOptions opts;                      // +86 default country
//   auto v = Normalize("phone", " 138 0013 8000 ", opts);   // "+8613800138000"
//   auto e = Normalize("email", " Li.Lei@Example.COM", opts); // "li.lei@example.com"
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace facet::identity {

// One identifier of a person: a namespace and a normalised value.
struct Identifier {
  std::string ns;
  std::string value;
  friend bool operator==(const Identifier&, const Identifier&) = default;
};

// Built-in namespaces. Custom namespaces may be configured in addition.
inline constexpr std::string_view kUserId = "user_id";
inline constexpr std::string_view kAnonymousId = "anonymous_id";
inline constexpr std::string_view kEmail = "email";
inline constexpr std::string_view kPhone = "phone";
inline constexpr std::string_view kDeviceId = "device_id";
inline constexpr std::string_view kWechatOpenId = "wechat_openid";
inline constexpr std::string_view kWechatUnionId = "wechat_unionid";

struct IdentityOptions {
  // Secret key of the HMAC-SHA256 that indexes identifiers. Must be set.
  std::string hmac_key;
  // Country calling code used for phone numbers without one ("86" = China).
  std::string default_country_code = "86";
  // Most identifiers one person may hold per namespace; absent = unlimited.
  // user_id defaults to 1: a link that would give a person two user ids is
  // refused and recorded as a conflict.
  std::map<std::string, int, std::less<>> max_per_namespace = {
      {"user_id", 1}, {"device_id", 10},     {"anonymous_id", 100}, {"email", 5},
      {"phone", 5},   {"wechat_openid", 10}, {"wechat_unionid", 1}};
  // Namespaces whose values are personal data (exported as keyed hashes).
  std::vector<std::string> pii_namespaces = {"email", "phone", "wechat_openid", "wechat_unionid"};
  // Namespaces whose identifiers, sent through a public (client) write key,
  // are only claims: they never link persons, and become identifiers only
  // when a server source sends them, or an event carries the user_id the
  // person already had. user_id and anonymous_id are never claims.
  std::vector<std::string> claim_namespaces = {"email", "phone"};
  // Words that make a trait path personal data (IsPiiTrait), matched against
  // the words of each path segment, case-insensitively.
  std::vector<std::string> pii_trait_words = {"email", "mail",   "phone",   "mobile", "tel",      "telephone",
                                              "cell",  "openid", "unionid", "idcard", "passport", "ssn"};
};

// Normalises `raw` for namespace `ns`: trims surrounding whitespace for all
// namespaces; lower-cases emails and checks they look like local@domain;
// turns phone numbers into E.164 ("+" then 8..15 digits; spaces, dashes,
// dots and parentheses removed; "00" prefix taken as "+"; numbers without a
// country code get `default_country_code`, dropping a single leading trunk
// "0"). Returns InvalidArgument naming the namespace and why (empty, too long
// (> 512 bytes), contains a NUL byte, not an email, not a phone number).
absl::StatusOr<std::string> Normalize(std::string_view ns, std::string_view raw, const IdentityOptions& options);

// True if `ns` holds personal data under `options`.
bool IsPii(std::string_view ns, const IdentityOptions& options);

// True if trait path `path` holds personal data under `options`: it names a
// PII namespace, or a segment of it has a word of pii_trait_words, words
// being split at '_', '-', ' ' and lower-to-upper case changes ("Email",
// "contact.email", "mobile", "emailAddress", "phone_number" all are).
bool IsPiiTrait(std::string_view path, const IdentityOptions& options);

// Keyed pseudonyms: HMAC-SHA256(key, ns || 0x00 || value). Thread-safe.
class Pseudonymizer {
 public:
  static constexpr size_t kDigestSize = 32;

  explicit Pseudonymizer(std::string key);
  ~Pseudonymizer();
  Pseudonymizer(const Pseudonymizer& other);
  Pseudonymizer& operator=(const Pseudonymizer& other);
  Pseudonymizer(Pseudonymizer&& other) noexcept;
  Pseudonymizer& operator=(Pseudonymizer&& other) noexcept;

  // 32 raw bytes.
  std::string Digest(std::string_view ns, std::string_view value) const;
  // 64 lower-case hex characters.
  std::string HexDigest(std::string_view ns, std::string_view value) const;
  // Digest() into `out`, without allocating (for hot paths).
  void DigestInto(std::string_view ns, std::string_view value, std::span<uint8_t, kDigestSize> out) const;

 private:
  struct Mac;  // the keyed HMAC state, computed once and reused
  std::string key_;
  std::unique_ptr<Mac> mac_;
};

// An identifier's pseudonym: Pseudonymizer::DigestInto(ns, value, ...).
using IdentifierDigest = std::array<uint8_t, Pseudonymizer::kDigestSize>;

}  // namespace facet::identity
