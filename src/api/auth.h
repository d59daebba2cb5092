// Who may call what. Facet has three kinds of keys: client write keys,
// which browser and app SDKs embed (so anyone can read them) and which may
// only send events; server write keys, secret, for back-ends and imports,
// which may only send events but are trusted to link persons through email
// and phone; and admin keys, which may call every endpoint.
//
//   KeyRing keys(options.write_keys, options.admin_keys);
//   absl::Status s = AuthorizeAdmin(keys, request.Header("Authorization"));
//   // Unauthenticated -> 401, PermissionDenied -> 403
//
// Keys are compared in constant time (no early exit on the first differing
// byte, and every configured key is compared). Thread-safe after
// construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "identity/identity_graph.h"

namespace facet::api {

enum class Role { kNone, kWrite, kServerWrite, kAdmin };

// The key found in an Authorization header, and how it was presented.
struct Credentials {
  enum class Scheme { kNone, kBasic, kBearer };
  Scheme scheme = Scheme::kNone;
  std::string key;  // Basic: the user name (password ignored); Bearer: the token
};

// Parses "Basic base64(user:password)" or "Bearer token" (scheme names are
// case-insensitive). A missing or malformed header yields Scheme::kNone.
Credentials ParseAuthorization(std::string_view header);

// Equal contents, in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

class KeyRing {
 public:
  // Empty keys are ignored: an empty key never authenticates.
  KeyRing(std::vector<std::string> write_keys, std::vector<std::string> admin_keys,
          std::vector<std::string> server_write_keys = {});

  // The role of `key`: kAdmin for an admin key, kServerWrite for a server
  // write key, kWrite for a client write key, kNone otherwise (a key in
  // several lists takes the most trusted role).
  Role Classify(std::string_view key) const;

 private:
  std::vector<std::string> write_keys_;
  std::vector<std::string> server_write_keys_;
  std::vector<std::string> admin_keys_;
};

// Who sent an ingest request.
struct IngestSource {
  identity::SourceTrust trust = identity::SourceTrust::kClient;  // kServer for server write and admin keys
  std::string key;                                               // the key that authenticated it
};

// Ingest endpoints: the source if the Authorization header (Basic user or
// Bearer token) or the body's writeKey (`body_write_key`, may be empty) is
// a write or admin key; otherwise Unauthenticated("unknown write key").
absl::StatusOr<IngestSource> AuthorizeIngest(const KeyRing& keys, std::string_view authorization,
                                             std::string_view body_write_key);

// Every other endpoint: OK for "Bearer <admin key>"; PermissionDenied("write
// keys may only send events") when a write key is presented (as Bearer or
// Basic); Unauthenticated otherwise.
absl::Status AuthorizeAdmin(const KeyRing& keys, std::string_view authorization);

// Standard base64 (RFC 4648, padding optional); false on invalid input.
bool Base64Decode(std::string_view in, std::string* out);

}  // namespace facet::api
