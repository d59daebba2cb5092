#include "segments/internal/catalog_record.h"

#include <cstdint>

#include "store/key_codec.h"

namespace facet::segments::internal {
namespace {

void PutString(std::string* out, std::string_view s) {
  store::PutFixed32BE(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool GetString(std::string_view* in, std::string* s) {
  if (in->size() < 4) return false;
  uint32_t n = store::DecodeFixed32BE(*in);
  if (in->size() - 4 < n) return false;
  s->assign(in->substr(4, n));
  in->remove_prefix(4 + n);
  return true;
}

bool GetTime(std::string_view* in, TimeMs* t) {
  if (in->size() < 8) return false;
  *t = store::DecodeInt64Ordered(*in);
  in->remove_prefix(8);
  return true;
}

}  // namespace

std::string EncodeCatalogRecord(bool is_segment, const TagDef& tag, const SegmentDef& segment) {
  std::string out;
  out.push_back(is_segment ? 'S' : 'T');
  if (is_segment) {
    for (const std::string* s : {&segment.name, &segment.description, &segment.expression, &segment.owner}) {
      PutString(&out, *s);
    }
    store::PutInt64Ordered(&out, segment.created_at);
    store::PutInt64Ordered(&out, segment.updated_at);
  } else {
    out.push_back(static_cast<char>(tag.kind));
    for (const std::string* s : {&tag.name, &tag.display_name, &tag.parent, &tag.description, &tag.owner, &tag.rule}) {
      PutString(&out, *s);
    }
    store::PutInt64Ordered(&out, tag.created_at);
    store::PutInt64Ordered(&out, tag.updated_at);
  }
  return out;
}

bool DecodeCatalogRecord(std::string_view in, bool* is_segment, TagDef* tag, SegmentDef* segment) {
  if (in.empty()) return false;
  const char type = in.front();
  in.remove_prefix(1);
  if (type == 'S') {
    *is_segment = true;
    for (std::string* s : {&segment->name, &segment->description, &segment->expression, &segment->owner}) {
      if (!GetString(&in, s)) return false;
    }
    if (!GetTime(&in, &segment->created_at) || !GetTime(&in, &segment->updated_at)) return false;
  } else if (type == 'T') {
    *is_segment = false;
    if (in.empty() || static_cast<uint8_t>(in.front()) > static_cast<uint8_t>(TagKind::kModel)) return false;
    tag->kind = static_cast<TagKind>(in.front());
    in.remove_prefix(1);
    for (std::string* s : {&tag->name, &tag->display_name, &tag->parent, &tag->description, &tag->owner, &tag->rule}) {
      if (!GetString(&in, s)) return false;
    }
    if (!GetTime(&in, &tag->created_at) || !GetTime(&in, &tag->updated_at)) return false;
  } else {
    return false;
  }
  return in.empty();
}

}  // namespace facet::segments::internal
