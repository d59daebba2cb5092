// TimestampParser: reads event times in the formats a mapping may name.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/types.h"

namespace facet::importer::internal {

class TimestampParser {
 public:
  // `format`: "iso8601", "unix_s" (may have a fraction), "unix_ms", or a
  // strptime-like pattern with %Y %y %m %d %e %H %I %M %S %f (fraction of a
  // second) %p %b %B %h %a %A %z %T %F %R %% (blanks match any run of
  // blanks). `timezone`: "UTC", "Z", a fixed offset ("+08:00", "-0500") or
  // an IANA name ("Europe/London"); it applies to times written without an
  // offset. InvalidArgument for an unknown directive or zone.
  static absl::StatusOr<TimestampParser> Create(std::string_view format, std::string_view timezone);

  // Milliseconds since the epoch; false when `text` does not match.
  bool Parse(std::string_view text, TimeMs* out) const;

  const std::string& format() const { return format_; }

 private:
  enum class Kind { kIso, kUnixS, kUnixMs, kPattern };
  TimestampParser() = default;
  bool ParsePattern(std::string_view text, TimeMs* out) const;
  // Interprets a civil time without an offset in the configured zone.
  TimeMs FromLocal(int64_t y, int mo, int d, int h, int mi, int s, int ms) const;

  Kind kind_ = Kind::kIso;
  std::string format_;
  bool utc_ = true;
  bool fixed_ = true;
  int64_t offset_seconds_ = 0;
  absl::TimeZone zone_;
};

}  // namespace facet::importer::internal
