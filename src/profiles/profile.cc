#include "profiles/profile.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>

#include "profiles/internal/codec.h"

namespace facet::profiles {
namespace {

// Layout (version 2; version 1 lacks applied_seq):
//   version:u8 first_seen:zigzag last_seen:zigzag event_count:varint
//   counts_by_type, counts_by_event: count:varint (key:string n:varint)*
//   revenue_by_event: count:varint (key:string sum:f64)*  revenue:f64
//   traits: count:varint (key:string updated_at:zigzag seq:varint json:string)*
//   flags:u8 [location] location_at:zigzag applied_seq:varint
// Map keys are written in (strictly increasing) map order; the decoder
// rejects anything else.
constexpr uint8_t kProfileFormatVersion = 2;
constexpr uint8_t kHasLocation = 1 << 0;

template <typename Map>
using Value = typename Map::mapped_type;

// The entry for `key`, value-initialised when absent; one tree walk.
template <typename Map>
Value<Map>& Slot(Map& m, std::string_view key) {
  auto it = m.lower_bound(key);
  if (it == m.end() || m.key_comp()(key, it->first)) {
    it = m.emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(key), std::forward_as_tuple());
  }
  return it->second;
}

// True when a write at (at, seq) may replace `current` (it is not older).
bool NotOlder(TimeMs at, EventSeq seq, const TraitValue& current) {
  return std::tie(at, seq) >= std::tie(current.updated_at, current.seq);
}

void SetTrait(std::string_view key, TimeMs at, EventSeq seq, std::string_view json, Profile* p) {
  auto it = p->traits.lower_bound(key);
  if (it == p->traits.end() || p->traits.key_comp()(key, it->first)) {
    p->traits.emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(key),
                           std::forward_as_tuple(TraitValue{at, seq, std::string(json)}));
  } else if (NotOlder(at, seq, it->second)) {
    it->second.updated_at = at;
    it->second.seq = seq;
    it->second.json.assign(json);
  }
}

template <typename Map>
void AddAll(const Map& src, Map* dst) {
  for (const auto& [key, v] : src) Slot(*dst, key) += v;
}

absl::Status Corrupt(std::string_view what) { return absl::DataLossError("corrupt profile: bad " + std::string(what)); }

template <typename Map>
void PutCounts(std::string* out, const Map& m) {
  internal::PutVarint64(out, m.size());
  for (const auto& [key, n] : m) {
    internal::PutString(out, key);
    internal::PutVarint64(out, n);
  }
}

// Reads `count` entries with `read_value`, requiring strictly increasing keys.
template <typename Map, typename ReadValue>
bool ReadMap(internal::Reader* r, size_t min_bytes_each, Map* m, ReadValue read_value) {
  uint64_t count;
  if (!r->ReadCount(&count, min_bytes_each)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key;
    if (!r->ReadString(&key)) return false;
    if (!m->empty() && !m->key_comp()(std::prev(m->end())->first, key)) return false;
    auto it = m->emplace_hint(m->end(), std::piecewise_construct, std::forward_as_tuple(key), std::forward_as_tuple());
    if (!read_value(&it->second)) return false;
  }
  return true;
}

}  // namespace

void ApplyEvent(const Event& e, Profile* p) {
  ++p->event_count;
  ++Slot(p->counts_by_type, EventTypeName(e.type));
  const bool track = e.type == EventType::kTrack;
  if (track) ++Slot(p->counts_by_event, e.name);
  p->first_seen = std::min(p->first_seen, e.timestamp);
  p->last_seen = std::max(p->last_seen, e.timestamp);
  if (e.revenue) {
    p->revenue += *e.revenue;
    if (track) Slot(p->revenue_by_event, e.name) += *e.revenue;
  }
  // Which write is latest: nothing happened after it was received, so a
  // time ahead of receivedAt (a wrong or forged clock) ranks as receivedAt
  // and cannot outrank every later event.
  const TimeMs at = e.received_at > 0 ? std::min(e.timestamp, e.received_at) : e.timestamp;
  for (const auto& [key, json] : e.traits) SetTrait(key, at, e.seq, json, p);
  if (e.location && (!p->location || at >= p->location_at)) {
    p->location = *e.location;
    p->location_at = at;
  }
  p->applied_seq = std::max(p->applied_seq, e.seq);
}

void Combine(const Profile& src, Profile* dst) {
  dst->event_count += src.event_count;
  dst->first_seen = std::min(dst->first_seen, src.first_seen);
  dst->last_seen = std::max(dst->last_seen, src.last_seen);
  AddAll(src.counts_by_type, &dst->counts_by_type);
  AddAll(src.counts_by_event, &dst->counts_by_event);
  AddAll(src.revenue_by_event, &dst->revenue_by_event);
  dst->revenue += src.revenue;
  for (const auto& [key, tv] : src.traits) SetTrait(key, tv.updated_at, tv.seq, tv.json, dst);
  if (src.location && (!dst->location || src.location_at >= dst->location_at)) {
    dst->location = src.location;
    dst->location_at = src.location_at;
  }
  dst->applied_seq = std::max(dst->applied_seq, src.applied_seq);
}

std::string EncodeProfile(const Profile& p) {
  using namespace internal;
  std::string out;
  out.reserve(
      64 + 16 * (p.counts_by_type.size() + p.counts_by_event.size() + p.revenue_by_event.size() + 2 * p.traits.size()));
  PutByte(&out, kProfileFormatVersion);
  PutSigned64(&out, p.first_seen);
  PutSigned64(&out, p.last_seen);
  PutVarint64(&out, p.event_count);
  PutCounts(&out, p.counts_by_type);
  PutCounts(&out, p.counts_by_event);
  PutVarint64(&out, p.revenue_by_event.size());
  for (const auto& [key, sum] : p.revenue_by_event) {
    PutString(&out, key);
    PutDouble(&out, sum);
  }
  PutDouble(&out, p.revenue);
  PutVarint64(&out, p.traits.size());
  for (const auto& [key, tv] : p.traits) {
    PutString(&out, key);
    PutSigned64(&out, tv.updated_at);
    PutVarint64(&out, tv.seq);
    PutString(&out, tv.json);
  }
  PutByte(&out, p.location ? kHasLocation : 0);
  if (p.location) PutLocation(&out, *p.location);
  PutSigned64(&out, p.location_at);
  PutVarint64(&out, p.applied_seq);
  return out;
}

absl::StatusOr<Profile> DecodeProfile(std::string_view bytes) {
  internal::Reader r(bytes);
  uint8_t version;
  if (!r.ReadByte(&version)) return Corrupt("version (empty input)");
  if (version != kProfileFormatVersion && version != 1) {
    return absl::DataLossError("corrupt profile: unsupported format version " +
                               std::to_string(static_cast<int>(version)));
  }
  Profile p;
  if (!r.ReadSigned64(&p.first_seen)) return Corrupt("first_seen");
  if (!r.ReadSigned64(&p.last_seen)) return Corrupt("last_seen");
  if (!r.ReadVarint64(&p.event_count)) return Corrupt("event_count");
  auto read_count = [&r](uint64_t* n) { return r.ReadVarint64(n); };
  if (!ReadMap(&r, 2, &p.counts_by_type, read_count)) return Corrupt("counts_by_type");
  if (!ReadMap(&r, 2, &p.counts_by_event, read_count)) return Corrupt("counts_by_event");
  auto read_sum = [&r](double* d) { return r.ReadDouble(d); };
  if (!ReadMap(&r, 9, &p.revenue_by_event, read_sum)) return Corrupt("revenue_by_event");
  if (!r.ReadDouble(&p.revenue)) return Corrupt("revenue");
  auto read_trait = [&r](TraitValue* tv) {
    return r.ReadSigned64(&tv->updated_at) && r.ReadVarint64(&tv->seq) && r.ReadString(&tv->json);
  };
  if (!ReadMap(&r, 4, &p.traits, read_trait)) return Corrupt("traits");
  uint8_t flags;
  if (!r.ReadByte(&flags) || (flags & ~kHasLocation) != 0) return Corrupt("flags");
  if (flags & kHasLocation) {
    if (!internal::ReadLocation(&r, &p.location.emplace())) return Corrupt("location");
  }
  if (!r.ReadSigned64(&p.location_at)) return Corrupt("location_at");
  if (version >= 2 && !r.ReadVarint64(&p.applied_seq)) return Corrupt("applied_seq");
  if (!r.done()) return Corrupt("length (trailing bytes)");
  return p;
}

}  // namespace facet::profiles
