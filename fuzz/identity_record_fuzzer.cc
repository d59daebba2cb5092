// The identity graph's stored records (identity/internal/record_codec.h):
// atoms, merges and identity keys. What decodes must re-encode to a record
// that decodes to the same encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "identity/internal/record_codec.h"

namespace internal = facet::identity::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto atom = internal::DecodeAtomRecord(bytes); atom.ok()) {
    const std::string encoded = internal::EncodeAtomRecord(*atom);
    auto again = internal::DecodeAtomRecord(encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(internal::EncodeAtomRecord(*again) == encoded);
  }
  if (auto merge = internal::DecodeMergeRecord(42, bytes); merge.ok()) {
    const std::string encoded = internal::EncodeMergeRecord(*merge);
    auto again = internal::DecodeMergeRecord(42, encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(internal::EncodeMergeRecord(*again) == encoded);
  }
  std::string_view ns, digest;
  if (internal::ParseIdentityKey(bytes, &ns, &digest).ok()) {
    FUZZ_CHECK(ns.size() + 1 + digest.size() == bytes.size());
  }
  return 0;
}
