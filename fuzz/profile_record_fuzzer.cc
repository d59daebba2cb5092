// profiles::DecodeProfile (checkpointed profiles, built on the primitives of
// profiles/internal/codec.h). What decodes must re-encode to a record that
// decodes to the same encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "profiles/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<facet::profiles::Profile> p = facet::profiles::DecodeProfile(bytes);
  if (!p.ok()) return 0;
  const std::string encoded = facet::profiles::EncodeProfile(*p);
  absl::StatusOr<facet::profiles::Profile> again = facet::profiles::DecodeProfile(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(facet::profiles::EncodeProfile(*again) == encoded);
  return 0;
}
