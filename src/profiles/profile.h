// Profile: what we know about one person (360 view): traits (latest
// timestamp wins, per key), first/last seen, event counts, revenue, last
// known location. Profiles of atoms combine into the profile of a merged
// person with Combine().
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/types.h"
#include "profiles/event.h"

namespace facet::profiles {

struct TraitValue {
  TimeMs updated_at = 0;  // time of the event that set it (at most its receivedAt)
  EventSeq seq = 0;       // tie-break: later seq wins at equal timestamps
  std::string json;       // JSON text of the value
};

struct Profile {
  TimeMs first_seen = std::numeric_limits<TimeMs>::max();  // max = no events
  TimeMs last_seen = std::numeric_limits<TimeMs>::min();
  uint64_t event_count = 0;
  std::map<std::string, uint64_t, std::less<>> counts_by_type;   // "track" -> n
  std::map<std::string, uint64_t, std::less<>> counts_by_event;  // track names -> n
  // Sum of `revenue` by track event name, and over all events (net: refunds
  // carry negative revenue when the source says so).
  std::map<std::string, double, std::less<>> revenue_by_event;
  double revenue = 0;
  std::map<std::string, TraitValue, std::less<>> traits;
  std::optional<Location> location;
  TimeMs location_at = 0;
  // Highest event seq applied (0: none). A checkpointed atom profile holds
  // exactly its events up to this seq, so that replay skips the rest.
  EventSeq applied_seq = 0;

  bool empty() const { return event_count == 0 && traits.empty(); }
};

// Adds one event to `p`: counts, first/last seen, revenue, traits (a value
// replaces the current one only if its (timestamp, seq) is not older; a
// timestamp past the event's receivedAt counts as receivedAt),
// location (latest by timestamp).
void ApplyEvent(const Event& e, Profile* p);

// Folds `src` into `dst` as if every event of `src` had been applied to `dst`.
void Combine(const Profile& src, Profile* dst);

// Binary codec for checkpoints. DecodeProfile returns DataLoss on corrupt input.
std::string EncodeProfile(const Profile& p);
absl::StatusOr<Profile> DecodeProfile(std::string_view bytes);

}  // namespace facet::profiles
