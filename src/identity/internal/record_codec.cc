#include "identity/internal/record_codec.h"

#include <cstring>

#include "absl/status/status.h"
#include "store/key_codec.h"

namespace facet::identity::internal {
namespace {

constexpr uint8_t kAtomVersion = 1;
constexpr uint8_t kMergeVersion = 1;
// No identifier, namespace or reason comes anywhere near this; a larger
// length can only be corruption.
constexpr uint32_t kMaxStringBytes = 1 << 20;

void PutString(std::string* dst, std::string_view s) {
  store::PutFixed32BE(dst, static_cast<uint32_t>(s.size()));
  dst->append(s);
}

// Bounds-checked reader over untrusted bytes. Each getter returns false once
// the input is exhausted; the caller turns that into DataLoss.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool U8(uint8_t* v) {
    if (in_.size() < 1) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    if (in_.size() < 4) return false;
    *v = store::DecodeFixed32BE(in_);
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = store::DecodeFixed64BE(in_);
    in_.remove_prefix(8);
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t u = 0;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool String(std::string* s) {
    uint32_t n = 0;
    if (!U32(&n) || n > kMaxStringBytes || in_.size() < n) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

absl::Status Corrupt(std::string_view what) { return absl::DataLossError("corrupt identity " + std::string(what)); }

}  // namespace

std::string EncodeAtomRecord(const AtomRecord& r) {
  std::string out;
  out.reserve(29 + r.identifiers.size() * 48);
  out.push_back(static_cast<char>(kAtomVersion));
  store::PutFixed32BE(&out, r.parent);
  store::PutFixed64BE(&out, r.attached_by);
  store::PutFixed64BE(&out, static_cast<uint64_t>(r.created_at));
  store::PutFixed32BE(&out, static_cast<uint32_t>(r.identifiers.size()));
  for (const StoredIdentifier& s : r.identifiers) {
    store::PutFixed64BE(&out, s.seq);
    PutString(&out, s.id.ns);
    PutString(&out, s.id.value);
  }
  if (!r.claims.empty()) {
    store::PutFixed32BE(&out, static_cast<uint32_t>(r.claims.size()));
    for (const Claim& c : r.claims) {
      PutString(&out, c.id.ns);
      PutString(&out, c.id.value);
      store::PutFixed64BE(&out, static_cast<uint64_t>(c.at));
    }
  }
  return out;
}

absl::StatusOr<AtomRecord> DecodeAtomRecord(std::string_view bytes) {
  Reader in(bytes);
  uint8_t version = 0;
  AtomRecord r;
  uint32_t n = 0;
  if (!in.U8(&version)) return Corrupt("person record: empty");
  if (version != kAtomVersion) {
    return Corrupt("person record: unknown version " + std::to_string(version));
  }
  if (!in.U32(&r.parent) || !in.U64(&r.attached_by) || !in.I64(&r.created_at) || !in.U32(&n)) {
    return Corrupt("person record: truncated header");
  }
  // Each identifier takes at least 16 bytes: do not trust `n` to reserve.
  if (n > in.remaining() / 16) return Corrupt("person record: identifier count too large");
  r.identifiers.resize(n);
  for (StoredIdentifier& s : r.identifiers) {
    if (!in.U64(&s.seq) || !in.String(&s.id.ns) || !in.String(&s.id.value)) {
      return Corrupt("person record: truncated identifier");
    }
  }
  if (!in.done()) {
    uint32_t claims = 0;
    if (!in.U32(&claims)) return Corrupt("person record: truncated claim count");
    // Each claim takes at least 16 bytes.
    if (claims == 0 || claims > in.remaining() / 16) return Corrupt("person record: claim count out of range");
    r.claims.resize(claims);
    for (Claim& c : r.claims) {
      if (!in.String(&c.id.ns) || !in.String(&c.id.value) || !in.I64(&c.at)) {
        return Corrupt("person record: truncated claim");
      }
    }
  }
  if (!in.done()) return Corrupt("person record: trailing bytes");
  return r;
}

std::string EncodeMergeRecord(const MergeRecord& r) {
  std::string out;
  out.reserve(40 + r.reason.size() + r.via.ns.size() + r.via.value.size() + r.detail.size());
  out.push_back(static_cast<char>(kMergeVersion));
  out.push_back(static_cast<char>(r.status));
  store::PutFixed32BE(&out, r.survivor);
  store::PutFixed32BE(&out, r.absorbed);
  store::PutFixed64BE(&out, static_cast<uint64_t>(r.at));
  store::PutFixed64BE(&out, static_cast<uint64_t>(r.undone_at));
  PutString(&out, r.reason);
  PutString(&out, r.via.ns);
  PutString(&out, r.via.value);
  PutString(&out, r.detail);
  return out;
}

absl::StatusOr<MergeRecord> DecodeMergeRecord(uint64_t id, std::string_view bytes) {
  Reader in(bytes);
  uint8_t version = 0;
  uint8_t status = 0;
  MergeRecord r;
  r.id = id;
  if (!in.U8(&version)) return Corrupt("merge record: empty");
  if (version != kMergeVersion) {
    return Corrupt("merge record: unknown version " + std::to_string(version));
  }
  if (!in.U8(&status) || !in.U32(&r.survivor) || !in.U32(&r.absorbed) || !in.I64(&r.at) || !in.I64(&r.undone_at) ||
      !in.String(&r.reason) || !in.String(&r.via.ns) || !in.String(&r.via.value) || !in.String(&r.detail)) {
    return Corrupt("merge record: truncated");
  }
  if (status > static_cast<uint8_t>(MergeStatus::kRefused)) {
    return Corrupt("merge record: unknown status " + std::to_string(status));
  }
  r.status = static_cast<MergeStatus>(status);
  if (!in.done()) return Corrupt("merge record: trailing bytes");
  return r;
}

std::string IdentityKey(std::string_view ns, std::span<const uint8_t> digest) {
  std::string key;
  key.reserve(ns.size() + 1 + digest.size());
  key.append(ns).push_back('\0');
  key.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return key;
}

absl::Status ParseIdentityKey(std::string_view key, std::string_view* ns, std::string_view* digest) {
  constexpr size_t kDigest = Pseudonymizer::kDigestSize;
  if (key.size() < kDigest + 2 || key[key.size() - kDigest - 1] != '\0') {
    return Corrupt("index key: malformed");
  }
  *ns = key.substr(0, key.size() - kDigest - 1);
  if (ns->find('\0') != std::string_view::npos) return Corrupt("index key: NUL in namespace");
  *digest = key.substr(key.size() - kDigest);
  return absl::OkStatus();
}

}  // namespace facet::identity::internal
