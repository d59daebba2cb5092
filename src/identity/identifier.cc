#include "identity/identifier.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "absl/status/status.h"

namespace facet::identity {
namespace {

constexpr size_t kMaxValueBytes = 512;
constexpr size_t kMinPhoneDigits = 8;
constexpr size_t kMaxPhoneDigits = 15;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Debian's Abseil has its own string_view, so messages are built with std::string.
absl::Status Invalid(std::string_view ns, std::string_view why) {
  std::string msg = "identifier '";
  msg.append(ns).append("': ").append(why);
  return absl::InvalidArgumentError(msg);
}

absl::StatusOr<std::string> NormalizeEmail(std::string_view ns, std::string_view v) {
  const size_t at = v.find('@');
  if (at == std::string_view::npos || at == 0 || v.find('@', at + 1) != std::string_view::npos) {
    return Invalid(ns, "not an email (expected local@domain)");
  }
  const std::string_view domain = v.substr(at + 1);
  if (domain.empty() || domain.front() == '.' || domain.back() == '.' ||
      domain.find('.') == std::string_view::npos || domain.find("..") != std::string_view::npos) {
    return Invalid(ns, "not an email (bad domain)");
  }
  std::string out(v);
  for (char& c : out) {
    if (IsSpace(c) || static_cast<unsigned char>(c) < 0x20) {
      return Invalid(ns, "not an email (contains whitespace or control characters)");
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

absl::StatusOr<std::string> NormalizePhone(std::string_view ns, std::string_view v,
                                           std::string_view default_country_code) {
  std::string digits;
  digits.reserve(v.size() + default_country_code.size());
  bool plus = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (IsDigit(c)) {
      digits.push_back(c);
    } else if (c == '+') {
      if (plus || !digits.empty()) return Invalid(ns, "not a phone number ('+' not at the start)");
      plus = true;
    } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || IsSpace(c)) {
      continue;
    } else {
      return Invalid(ns, "not a phone number (unexpected character)");
    }
  }
  if (digits.empty()) return Invalid(ns, "not a phone number (no digits)");

  std::string out;
  out.reserve(digits.size() + default_country_code.size() + 1);
  out.push_back('+');
  if (plus) {
    out.append(digits);
  } else if (digits.size() > 2 && digits[0] == '0' && digits[1] == '0') {
    out.append(digits, 2);
  } else {
    if (default_country_code.empty() ||
        !std::all_of(default_country_code.begin(), default_country_code.end(), IsDigit)) {
      return Invalid(ns, "no country code and no valid default_country_code");
    }
    out.append(default_country_code);
    out.append(digits, digits[0] == '0' ? 1 : 0);
  }
  const size_t n = out.size() - 1;
  if (n < kMinPhoneDigits || n > kMaxPhoneDigits) {
    return Invalid(ns, "not a phone number (" + std::to_string(n) + " digits, expected " +
                           std::to_string(kMinPhoneDigits) + ".." +
                           std::to_string(kMaxPhoneDigits) + ")");
  }
  if (out[1] == '0') return Invalid(ns, "not a phone number (country code starts with 0)");
  return out;
}

}  // namespace

absl::StatusOr<std::string> Normalize(std::string_view ns, std::string_view raw,
                                      const IdentityOptions& options) {
  if (ns.empty()) return absl::InvalidArgumentError("identifier namespace is empty");
  if (ns.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("identifier namespace contains a NUL byte");
  }
  const std::string_view v = Trim(raw);
  if (v.empty()) return Invalid(ns, "empty");
  if (v.size() > kMaxValueBytes) {
    return Invalid(ns, "too long (" + std::to_string(v.size()) + " > " +
                           std::to_string(kMaxValueBytes) + " bytes)");
  }
  if (ns == kEmail) return NormalizeEmail(ns, v);
  if (ns == kPhone) return NormalizePhone(ns, v, options.default_country_code);
  return std::string(v);
}

bool IsPii(std::string_view ns, const IdentityOptions& options) {
  return std::find(options.pii_namespaces.begin(), options.pii_namespaces.end(), ns) !=
         options.pii_namespaces.end();
}

Pseudonymizer::Pseudonymizer(std::string key) : key_(std::move(key)) {}

std::string Pseudonymizer::Digest(std::string_view ns, std::string_view value) const {
  // The message is ns || 0x00 || value; short messages stay on the stack.
  std::array<unsigned char, 640> stack;
  std::string heap;
  const size_t len = ns.size() + 1 + value.size();
  unsigned char* msg = stack.data();
  if (len > stack.size()) {
    heap.resize(len);
    msg = reinterpret_cast<unsigned char*>(heap.data());
  }
  std::memcpy(msg, ns.data(), ns.size());
  msg[ns.size()] = 0;
  std::memcpy(msg + ns.size() + 1, value.data(), value.size());

  std::string out(32, '\0');
  unsigned int out_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), msg, len,
       reinterpret_cast<unsigned char*>(out.data()), &out_len);
  return out;
}

std::string Pseudonymizer::HexDigest(std::string_view ns, std::string_view value) const {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string raw = Digest(ns, value);
  std::string hex(raw.size() * 2, '\0');
  for (size_t i = 0; i < raw.size(); ++i) {
    const auto b = static_cast<unsigned char>(raw[i]);
    hex[2 * i] = kHex[b >> 4];
    hex[2 * i + 1] = kHex[b & 0xf];
  }
  return hex;
}

}  // namespace facet::identity
