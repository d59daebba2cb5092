#include "api/auth.h"

#include <cstdint>
#include <utility>

#include "api/internal/header_text.h"

namespace facet::api {
namespace {

using internal::EqualsIgnoreCase;
using internal::TrimSpaces;

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// True if any key of `keys` equals `key`; compares against all of them.
bool AnyEquals(const std::vector<std::string>& keys, std::string_view key) {
  bool found = false;
  for (const std::string& k : keys) found |= ConstantTimeEquals(k, key);
  return found;
}

std::vector<std::string> NonEmpty(std::vector<std::string> keys) {
  std::vector<std::string> out;
  for (std::string& k : keys) {
    if (!k.empty()) out.push_back(std::move(k));
  }
  return out;
}

}  // namespace

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

Credentials ParseAuthorization(std::string_view header) {
  Credentials c;
  header = TrimSpaces(header);
  size_t space = header.find(' ');
  if (space == std::string_view::npos) return c;
  std::string_view scheme = header.substr(0, space);
  std::string_view value = TrimSpaces(header.substr(space + 1));
  if (value.empty()) return c;
  if (EqualsIgnoreCase(scheme, "Bearer")) {
    c.scheme = Credentials::Scheme::kBearer;
    c.key = std::string(value);
  } else if (EqualsIgnoreCase(scheme, "Basic")) {
    std::string decoded;
    if (!Base64Decode(value, &decoded)) return c;
    size_t colon = decoded.find(':');
    c.scheme = Credentials::Scheme::kBasic;
    c.key = colon == std::string::npos ? decoded : decoded.substr(0, colon);
  }
  return c;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

KeyRing::KeyRing(std::vector<std::string> write_keys, std::vector<std::string> admin_keys,
                 std::vector<std::string> server_write_keys)
    : write_keys_(NonEmpty(std::move(write_keys))),
      server_write_keys_(NonEmpty(std::move(server_write_keys))),
      admin_keys_(NonEmpty(std::move(admin_keys))) {}

Role KeyRing::Classify(std::string_view key) const {
  if (key.empty()) return Role::kNone;
  // Every list is compared, so that the time taken does not tell which.
  const bool admin = AnyEquals(admin_keys_, key);
  const bool server = AnyEquals(server_write_keys_, key);
  const bool write = AnyEquals(write_keys_, key);
  if (admin) return Role::kAdmin;
  if (server) return Role::kServerWrite;
  if (write) return Role::kWrite;
  return Role::kNone;
}

absl::StatusOr<IngestSource> AuthorizeIngest(const KeyRing& keys, std::string_view authorization,
                                             std::string_view body_write_key) {
  auto source = [](Role role, std::string_view key) {
    return IngestSource{role == Role::kWrite ? identity::SourceTrust::kClient : identity::SourceTrust::kServer,
                        std::string(key)};
  };
  Credentials c = ParseAuthorization(authorization);
  if (c.scheme != Credentials::Scheme::kNone) {
    if (Role role = keys.Classify(c.key); role != Role::kNone) return source(role, c.key);
  }
  if (Role role = keys.Classify(body_write_key); role != Role::kNone) return source(role, body_write_key);
  return absl::UnauthenticatedError("unknown write key");
}

absl::Status AuthorizeAdmin(const KeyRing& keys, std::string_view authorization) {
  Credentials c = ParseAuthorization(authorization);
  if (c.scheme == Credentials::Scheme::kNone) {
    return absl::UnauthenticatedError("missing admin key");
  }
  Role role = keys.Classify(c.key);
  if (role == Role::kWrite || role == Role::kServerWrite) {
    return absl::PermissionDeniedError("write keys may only send events");
  }
  if (role == Role::kAdmin && c.scheme == Credentials::Scheme::kBearer) return absl::OkStatus();
  if (role == Role::kAdmin) {
    return absl::UnauthenticatedError("admin keys are sent as Authorization: Bearer");
  }
  return absl::UnauthenticatedError("unknown admin key");
}

}  // namespace facet::api
