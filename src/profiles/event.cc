#include "profiles/event.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "profiles/internal/codec.h"

namespace facet::profiles {
namespace {

// Layout (version 1):
//   version:u8 seq:varint person:varint type:u8 timestamp:zigzag
//   received_at:zigzag message_id name user_id anonymous_id previous_id
//   group_id:string trait_count:varint (key:string json:string)*
//   properties:string context:string flags:u8 [revenue:f64] currency:string
//   [location]
// Strings are varint-length-prefixed; f64 is little-endian IEEE 754.
constexpr uint8_t kEventFormatVersion = 1;
constexpr uint8_t kHasRevenue = 1 << 0;
constexpr uint8_t kHasLocation = 1 << 1;
constexpr uint8_t kKnownFlags = kHasRevenue | kHasLocation;

constexpr std::string_view kTypeNames[] = {"identify", "track", "page", "screen", "group", "alias"};
constexpr size_t kTypeCount = sizeof(kTypeNames) / sizeof(kTypeNames[0]);

absl::Status Corrupt(std::string_view what) { return absl::DataLossError("corrupt event: bad " + std::string(what)); }

}  // namespace

std::string_view EventTypeName(EventType t) {
  auto i = static_cast<size_t>(t);
  return i < kTypeCount ? kTypeNames[i] : std::string_view("unknown");
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kTypeCount; ++i) {
    if (kTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

std::string EncodeEvent(const Event& e) {
  using namespace internal;
  size_t estimate = 48 + e.message_id.size() + e.name.size() + e.user_id.size() + e.anonymous_id.size() +
                    e.previous_id.size() + e.group_id.size() + e.properties.size() + e.context.size() +
                    e.currency.size();
  for (const auto& [k, v] : e.traits) estimate += k.size() + v.size() + 4;
  if (e.location) estimate += 24 + e.location->city.size() + e.location->country.size();

  std::string out;
  out.reserve(estimate);
  PutByte(&out, kEventFormatVersion);
  PutVarint64(&out, e.seq);
  PutVarint64(&out, e.person);
  PutByte(&out, static_cast<uint8_t>(e.type));
  PutSigned64(&out, e.timestamp);
  PutSigned64(&out, e.received_at);
  PutString(&out, e.message_id);
  PutString(&out, e.name);
  PutString(&out, e.user_id);
  PutString(&out, e.anonymous_id);
  PutString(&out, e.previous_id);
  PutString(&out, e.group_id);
  PutVarint64(&out, e.traits.size());
  for (const auto& [key, json] : e.traits) {
    PutString(&out, key);
    PutString(&out, json);
  }
  PutString(&out, e.properties);
  PutString(&out, e.context);
  uint8_t flags = (e.revenue ? kHasRevenue : 0) | (e.location ? kHasLocation : 0);
  PutByte(&out, flags);
  if (e.revenue) PutDouble(&out, *e.revenue);
  PutString(&out, e.currency);
  if (e.location) PutLocation(&out, *e.location);
  return out;
}

absl::StatusOr<Event> DecodeEvent(std::string_view bytes) {
  internal::Reader r(bytes);
  uint8_t version;
  if (!r.ReadByte(&version)) return Corrupt("version (empty input)");
  if (version != kEventFormatVersion) {
    return absl::DataLossError(absl::StrCat("corrupt event: unsupported format version ", static_cast<int>(version)));
  }

  Event e;
  uint8_t type;
  if (!r.ReadVarint64(&e.seq)) return Corrupt("seq");
  if (!r.ReadVarint32(&e.person)) return Corrupt("person");
  if (!r.ReadByte(&type) || type >= kTypeCount) return Corrupt("type");
  e.type = static_cast<EventType>(type);
  if (!r.ReadSigned64(&e.timestamp)) return Corrupt("timestamp");
  if (!r.ReadSigned64(&e.received_at)) return Corrupt("received_at");
  if (!r.ReadString(&e.message_id)) return Corrupt("message_id");
  if (!r.ReadString(&e.name)) return Corrupt("name");
  if (!r.ReadString(&e.user_id)) return Corrupt("user_id");
  if (!r.ReadString(&e.anonymous_id)) return Corrupt("anonymous_id");
  if (!r.ReadString(&e.previous_id)) return Corrupt("previous_id");
  if (!r.ReadString(&e.group_id)) return Corrupt("group_id");

  uint64_t trait_count;
  if (!r.ReadCount(&trait_count, 2)) return Corrupt("trait count");
  e.traits.resize(trait_count);
  for (auto& [key, json] : e.traits) {
    if (!r.ReadString(&key) || !r.ReadString(&json)) return Corrupt("trait");
  }

  if (!r.ReadString(&e.properties)) return Corrupt("properties");
  if (!r.ReadString(&e.context)) return Corrupt("context");
  uint8_t flags;
  if (!r.ReadByte(&flags) || (flags & ~kKnownFlags) != 0) return Corrupt("flags");
  if (flags & kHasRevenue) {
    double revenue;
    if (!r.ReadDouble(&revenue)) return Corrupt("revenue");
    e.revenue = revenue;
  }
  if (!r.ReadString(&e.currency)) return Corrupt("currency");
  if (flags & kHasLocation) {
    if (!internal::ReadLocation(&r, &e.location.emplace())) return Corrupt("location");
  }
  if (!r.done()) return Corrupt("length (trailing bytes)");
  return e;
}

}  // namespace facet::profiles
