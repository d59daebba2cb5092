// profiles::DecodeEvent (stored events). What decodes must re-encode to a
// record that decodes to the same encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "profiles/event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<facet::profiles::Event> e = facet::profiles::DecodeEvent(bytes);
  if (!e.ok()) return 0;
  const std::string encoded = facet::profiles::EncodeEvent(*e);
  absl::StatusOr<facet::profiles::Event> again = facet::profiles::DecodeEvent(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(facet::profiles::EncodeEvent(*again) == encoded);
  return 0;
}
