// The stored form of a tag or segment definition (column family `catalog`,
// key "def/" + id): a type byte, length-prefixed strings and ordered times.
#pragma once

#include <string>
#include <string_view>

#include "segments/catalog.h"

namespace facet::segments::internal {

// Encodes the tag (is_segment false) or the segment.
std::string EncodeCatalogRecord(bool is_segment, const TagDef& tag, const SegmentDef& segment);

// Decodes a record into *is_segment and *tag or *segment; false when it is
// truncated, has trailing bytes, or an unknown type or kind.
bool DecodeCatalogRecord(std::string_view in, bool* is_segment, TagDef* tag, SegmentDef* segment);

}  // namespace facet::segments::internal
