// ISO-8601 timestamps <-> milliseconds since the epoch.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/types.h"

namespace facet {

// Parses an ISO-8601 / RFC 3339 timestamp such as "2024-05-01T12:30:00Z",
// "2024-05-01T12:30:00.123+08:00", "2024-05-01 12:30:00" (taken as UTC) or
// "2024-05-01" (midnight UTC). Returns InvalidArgument naming what is wrong.
absl::StatusOr<TimeMs> ParseIso8601(std::string_view text);

// Formats as "2024-05-01T12:30:00.123Z" (always UTC, always milliseconds).
std::string FormatIso8601(TimeMs ms);

// Days since 1970-01-01 for a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace facet
