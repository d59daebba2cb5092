#include "identity/identifier.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace facet::identity {
namespace {

constexpr size_t kMaxValueBytes = 512;
constexpr size_t kMinPhoneDigits = 8;
constexpr size_t kMaxPhoneDigits = 15;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

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
  if (domain.empty() || domain.front() == '.' || domain.back() == '.' || domain.find('.') == std::string_view::npos ||
      domain.find("..") != std::string_view::npos) {
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
                           std::to_string(kMinPhoneDigits) + ".." + std::to_string(kMaxPhoneDigits) + ")");
  }
  if (out[1] == '0') return Invalid(ns, "not a phone number (country code starts with 0)");
  return out;
}

}  // namespace

absl::StatusOr<std::string> Normalize(std::string_view ns, std::string_view raw, const IdentityOptions& options) {
  if (ns.empty()) return absl::InvalidArgumentError("identifier namespace is empty");
  if (ns.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("identifier namespace contains a NUL byte");
  }
  const std::string_view v = Trim(raw);
  if (v.empty()) return Invalid(ns, "empty");
  if (v.find('\0') != std::string_view::npos) return Invalid(ns, "contains a NUL byte");
  if (v.size() > kMaxValueBytes) {
    return Invalid(ns, "too long (" + std::to_string(v.size()) + " > " + std::to_string(kMaxValueBytes) + " bytes)");
  }
  if (ns == kEmail) return NormalizeEmail(ns, v);
  if (ns == kPhone) return NormalizePhone(ns, v, options.default_country_code);
  return std::string(v);
}

bool IsPii(std::string_view ns, const IdentityOptions& options) {
  return std::find(options.pii_namespaces.begin(), options.pii_namespaces.end(), ns) != options.pii_namespaces.end();
}

bool IsPiiTrait(std::string_view path, const IdentityOptions& options) {
  if (IsPii(path, options)) return true;
  std::string word;
  auto check = [&]() {
    const bool hit = !word.empty() && std::find(options.pii_trait_words.begin(), options.pii_trait_words.end(), word) !=
                                          options.pii_trait_words.end();
    word.clear();
    return hit;
  };
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    const bool upper = c >= 'A' && c <= 'Z';
    if (c == '.' || c == '_' || c == '-' || c == ' ') {
      if (check()) return true;
      continue;
    }
    if (upper && i > 0 && path[i - 1] >= 'a' && path[i - 1] <= 'z' && check()) return true;
    word.push_back(upper ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (check()) return true;
  // Whole segments, lower-cased: a PII namespace written in another case.
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('.', start);
    if (end == std::string_view::npos) end = path.size();
    word.clear();
    for (char ch : path.substr(start, end - start))
      word.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
    if (IsPii(word, options) || check()) return true;
    start = end + 1;
  }
  return false;
}

// The HMAC key schedule (the padded key's inner and outer hash states) is
// computed once in `ctx`; each digest re-initialises it with a NULL key, which
// OpenSSL documents as reusing the key already set. One context serves all
// threads under `mu`: a digest holds the lock for ~0.2 us.
struct Pseudonymizer::Mac {
  std::mutex mu;
  EVP_MAC_CTX* ctx = nullptr;

  explicit Mac(std::string_view key) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return;
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (ctx == nullptr) return;
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                                 OSSL_PARAM_construct_end()};
    static constexpr unsigned char kEmptyKey[1] = {0};
    const auto* k = key.empty() ? kEmptyKey : reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx, k, key.size(), params) != 1) {
      EVP_MAC_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  ~Mac() { EVP_MAC_CTX_free(ctx); }
  Mac(const Mac&) = delete;
  Mac& operator=(const Mac&) = delete;

  // False if OpenSSL failed; the caller then falls back to one-shot HMAC().
  bool Compute(std::string_view ns, std::string_view value, unsigned char* out) {
    if (ctx == nullptr) return false;
    static constexpr unsigned char kSeparator[1] = {0};
    std::lock_guard<std::mutex> lock(mu);
    size_t out_len = 0;
    return EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(ns.data()), ns.size()) == 1 &&
           EVP_MAC_update(ctx, kSeparator, 1) == 1 &&
           EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(value.data()), value.size()) == 1 &&
           EVP_MAC_final(ctx, out, &out_len, Pseudonymizer::kDigestSize) == 1 && out_len == Pseudonymizer::kDigestSize;
  }
};

namespace {

void OneShotHmac(std::string_view key, std::string_view ns, std::string_view value, unsigned char* out) {
  std::string msg;
  msg.reserve(ns.size() + 1 + value.size());
  msg.append(ns).push_back('\0');
  msg.append(value);
  unsigned int out_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &out_len);
}

}  // namespace

Pseudonymizer::Pseudonymizer(std::string key) : key_(std::move(key)), mac_(std::make_unique<Mac>(key_)) {}

Pseudonymizer::~Pseudonymizer() = default;

Pseudonymizer::Pseudonymizer(const Pseudonymizer& other) : key_(other.key_), mac_(std::make_unique<Mac>(key_)) {}

Pseudonymizer& Pseudonymizer::operator=(const Pseudonymizer& other) {
  if (this != &other) {
    key_ = other.key_;
    mac_ = std::make_unique<Mac>(key_);
  }
  return *this;
}

Pseudonymizer::Pseudonymizer(Pseudonymizer&& other) noexcept = default;
Pseudonymizer& Pseudonymizer::operator=(Pseudonymizer&& other) noexcept = default;

void Pseudonymizer::DigestInto(std::string_view ns, std::string_view value, std::span<uint8_t, kDigestSize> out) const {
  if (mac_ != nullptr && mac_->Compute(ns, value, out.data())) return;
  OneShotHmac(key_, ns, value, out.data());
}

std::string Pseudonymizer::Digest(std::string_view ns, std::string_view value) const {
  std::string out(kDigestSize, '\0');
  DigestInto(ns, value, std::span<uint8_t, kDigestSize>(reinterpret_cast<uint8_t*>(out.data()), kDigestSize));
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
