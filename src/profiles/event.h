// Event: one stored customer event (Segment spec: identify, track, page,
// screen, group, alias), as the ingest pipeline normalised it.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"

namespace facet::profiles {

enum class EventType : uint8_t { kIdentify = 0, kTrack, kPage, kScreen, kGroup, kAlias };

// "identify", "track", ...
std::string_view EventTypeName(EventType t);
// Parses a type name; nullopt when unknown.
std::optional<EventType> EventTypeFromName(std::string_view name);

struct Location {
  // NaN when the event named only a place, not coordinates.
  double latitude = std::numeric_limits<double>::quiet_NaN();
  double longitude = std::numeric_limits<double>::quiet_NaN();
  bool has_coordinates() const { return !std::isnan(latitude) && !std::isnan(longitude); }
  std::string city;
  std::string country;
};

struct Event {
  EventSeq seq = 0;             // assigned at commit, unique, increasing
  PersonId person = kNoPerson;  // atom the event was attributed to at ingest
  EventType type = EventType::kTrack;
  std::string message_id;
  std::string name;        // track: event name; page/screen: name; else empty
  TimeMs timestamp = 0;    // event time after clock-skew correction
  TimeMs received_at = 0;  // server time
  std::string user_id;
  std::string anonymous_id;
  std::string previous_id;  // alias only
  std::string group_id;     // group only
  // Trait updates carried by the event (identify: `traits`; others:
  // `context.traits`), as (key, JSON text of the value), in document order.
  std::vector<std::pair<std::string, std::string>> traits;
  std::string properties = "{}";  // JSON object text
  std::string context = "{}";     // JSON object text
  // Derived from properties: `revenue` (else `total`), when numeric.
  std::optional<double> revenue;
  std::string currency;
  // Derived from context.location, when it has latitude and longitude or a city.
  std::optional<Location> location;
};

// Compact binary encoding for the store. DecodeEvent validates lengths and
// returns DataLoss for truncated or corrupt input.
std::string EncodeEvent(const Event& e);
absl::StatusOr<Event> DecodeEvent(std::string_view bytes);

}  // namespace facet::profiles
