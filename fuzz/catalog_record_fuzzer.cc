// segments::internal::DecodeCatalogRecord (stored tag and segment
// definitions). What decodes must re-encode to the same bytes' meaning.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "segments/internal/catalog_record.h"

namespace internal = facet::segments::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  bool is_segment = false;
  facet::segments::TagDef tag;
  facet::segments::SegmentDef segment;
  if (!internal::DecodeCatalogRecord(bytes, &is_segment, &tag, &segment)) return 0;
  const std::string encoded = internal::EncodeCatalogRecord(is_segment, tag, segment);
  bool is_segment_again = false;
  facet::segments::TagDef tag_again;
  facet::segments::SegmentDef segment_again;
  FUZZ_CHECK(internal::DecodeCatalogRecord(encoded, &is_segment_again, &tag_again, &segment_again));
  FUZZ_CHECK(is_segment_again == is_segment);
  FUZZ_CHECK(internal::EncodeCatalogRecord(is_segment_again, tag_again, segment_again) == encoded);
  return 0;
}
