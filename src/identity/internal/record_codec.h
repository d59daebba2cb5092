// Binary records of the identity graph in the store:
//
//   kIdentities  ns 0x00 digest[32]      -> atom u32
//   kPersons     atom u32                -> AtomRecord
//   kMerges      merge id u64            -> MergeRecord
//   kMeta        "identity/next_person"  -> u64, "identity/next_merge" -> u64,
//                "identity/key_check"    -> digest[32] of the HMAC key
//
// Integers are big-endian. Every record opens with a format version byte.
// Decoders treat their input as untrusted: any malformed record is DataLoss.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"
#include "identity/identity_graph.h"

namespace facet::identity::internal {

inline constexpr std::string_view kMetaNextPerson = "identity/next_person";
inline constexpr std::string_view kMetaNextMerge = "identity/next_merge";
inline constexpr std::string_view kMetaKeyCheck = "identity/key_check";

// One identifier an atom holds, with its position in the graph-wide order in
// which identifiers were added.
struct StoredIdentifier {
  uint64_t seq = 0;
  Identifier id;
};

struct AtomRecord {
  PersonId parent = kNoPerson;
  uint64_t attached_by = 0;  // merge that made `parent` the parent; 0 for roots
  TimeMs created_at = 0;
  std::vector<StoredIdentifier> identifiers;
  std::vector<Claim> claims;  // after the identifiers; absent in older records
};

std::string EncodeAtomRecord(const AtomRecord& r);
absl::StatusOr<AtomRecord> DecodeAtomRecord(std::string_view bytes);

// `id` is not part of the value: it is the key.
std::string EncodeMergeRecord(const MergeRecord& r);
absl::StatusOr<MergeRecord> DecodeMergeRecord(uint64_t id, std::string_view bytes);

// kIdentities key: ns 0x00 digest.
std::string IdentityKey(std::string_view ns, std::span<const uint8_t> digest);
// Splits a kIdentities key; DataLoss when malformed.
absl::Status ParseIdentityKey(std::string_view key, std::string_view* ns, std::string_view* digest);

}  // namespace facet::identity::internal
