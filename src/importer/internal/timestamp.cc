#include "importer/internal/timestamp.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "base/time_format.h"
#include "importer/internal/strings.h"

namespace facet::importer::internal {
namespace {

constexpr std::string_view kMonths[] = {"january", "february", "march",     "april",   "may",      "june",
                                        "july",    "august",   "september", "october", "november", "december"};
constexpr std::string_view kWeekdays[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Parses a fixed offset: "Z", "UTC", "+08", "+0800", "+08:00".
bool ParseOffset(std::string_view s, size_t* pos, int64_t* seconds) {
  size_t i = *pos;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    *seconds = 0;
    *pos = i + 1;
    return true;
  }
  if (s.substr(i, 3) == "UTC" || s.substr(i, 3) == "GMT") {
    *seconds = 0;
    *pos = i + 3;
    return true;
  }
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  int sign = s[i] == '-' ? -1 : 1;
  ++i;
  auto two = [&](int* v) {
    if (i + 2 > s.size() || !IsDigit(s[i]) || !IsDigit(s[i + 1])) {
      return false;
    }
    *v = (s[i] - '0') * 10 + (s[i + 1] - '0');
    i += 2;
    return true;
  };
  int hh = 0, mm = 0;
  if (!two(&hh)) return false;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!two(&mm)) return false;
  } else if (i + 2 <= s.size() && IsDigit(s[i])) {
    if (!two(&mm)) return false;
  }
  if (hh > 23 || mm > 59) return false;
  *seconds = sign * (hh * 3600 + mm * 60);
  *pos = i;
  return true;
}

// Reads 1..max_digits digits.
bool Digits(std::string_view s, size_t* pos, int max_digits, int64_t* v) {
  size_t i = *pos;
  int64_t x = 0;
  int n = 0;
  while (i < s.size() && n < max_digits && IsDigit(s[i])) {
    x = x * 10 + (s[i] - '0');
    ++i;
    ++n;
  }
  if (n == 0) return false;
  *pos = i;
  *v = x;
  return true;
}

// Matches a full or three-letter name from `names`; returns its index.
template <size_t N>
bool Name(std::string_view s, size_t* pos, const std::string_view (&names)[N], int* index) {
  std::string_view rest = s.substr(*pos);
  for (size_t k = 0; k < N; ++k) {
    std::string_view full = names[k];
    if (rest.size() >= full.size() && EqualsIgnoreCase(rest.substr(0, full.size()), full)) {
      *pos += full.size();
      *index = static_cast<int>(k);
      return true;
    }
  }
  for (size_t k = 0; k < N; ++k) {
    std::string_view abbr = names[k].substr(0, 3);
    if (rest.size() >= 3 && EqualsIgnoreCase(rest.substr(0, 3), abbr)) {
      *pos += 3;
      *index = static_cast<int>(k);
      return true;
    }
  }
  return false;
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool HasZoneDesignator(std::string_view text) {
  // Looks after the date part (which has '-' separators) for Z or an offset.
  size_t t = text.find_first_of("Tt ", 8);
  if (t == std::string_view::npos) return false;
  std::string_view time = text.substr(t + 1);
  return time.find_first_of("Zz+-") != std::string_view::npos;
}

std::string_view Expand(char c) {
  switch (c) {
    case 'T':
      return "%H:%M:%S";
    case 'F':
      return "%Y-%m-%d";
    case 'R':
      return "%H:%M";
    default:
      return {};
  }
}

}  // namespace

absl::StatusOr<TimestampParser> TimestampParser::Create(std::string_view format, std::string_view timezone) {
  TimestampParser p;
  if (format == "iso8601") {
    p.kind_ = Kind::kIso;
  } else if (format == "unix_s") {
    p.kind_ = Kind::kUnixS;
  } else if (format == "unix_ms") {
    p.kind_ = Kind::kUnixMs;
  } else {
    p.kind_ = Kind::kPattern;
    std::string expanded;
    for (size_t i = 0; i < format.size(); ++i) {
      if (format[i] != '%') {
        expanded.push_back(format[i]);
        continue;
      }
      if (i + 1 == format.size()) {
        return absl::InvalidArgumentError(Cat("format \"", format, "\" ends with '%'"));
      }
      char c = format[++i];
      if (std::string_view e = Expand(c); !e.empty()) {
        expanded.append(e);
        continue;
      }
      static constexpr std::string_view kKnown = "YymdeHIMSfpbBhaAz%";
      if (kKnown.find(c) == std::string_view::npos) {
        return absl::InvalidArgumentError(
            Cat("format \"", format, "\": %", std::string(1, c),
                " is not supported (use %Y %y %m %d %e %H %I %M %S %f %p %b %B %a %z %T %F %R %%)"));
      }
      expanded.push_back('%');
      expanded.push_back(c);
    }
    p.format_ = expanded;
  }
  if (p.kind_ != Kind::kPattern) p.format_ = std::string(format);

  std::string tz(Trim(timezone));
  size_t pos = 0;
  int64_t offset = 0;
  if (tz.empty() || tz == "UTC" || tz == "utc" || tz == "Z" || tz == "GMT") {
    p.utc_ = true;
  } else if (ParseOffset(tz, &pos, &offset) && pos == tz.size()) {
    p.utc_ = offset == 0;
    p.fixed_ = true;
    p.offset_seconds_ = offset;
  } else if (absl::LoadTimeZone(tz, &p.zone_)) {
    p.utc_ = false;
    p.fixed_ = false;
  } else {
    return absl::InvalidArgumentError(
        Cat("unknown timezone \"", tz, "\" (use UTC, an offset such as +08:00, or an IANA name)"));
  }
  return p;
}

TimeMs TimestampParser::FromLocal(int64_t y, int mo, int d, int h, int mi, int s, int ms) const {
  if (utc_ || fixed_) {
    int64_t secs = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 +
                   s - (utc_ ? 0 : offset_seconds_);
    return secs * 1000 + ms;
  }
  absl::Time t = absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), zone_);
  return absl::ToUnixSeconds(t) * 1000 + ms;
}

bool TimestampParser::Parse(std::string_view text, TimeMs* out) const {
  text = Trim(text);
  if (text.empty()) return false;
  switch (kind_) {
    case Kind::kIso: {
      absl::StatusOr<TimeMs> ms = ParseIso8601(text);
      if (!ms.ok()) return false;
      if (utc_ || HasZoneDesignator(text)) {
        *out = *ms;
        return true;
      }
      int64_t secs = *ms / 1000, rem = *ms % 1000;
      if (rem < 0) {
        rem += 1000;
        secs -= 1;
      }
      absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixSeconds(secs), absl::UTCTimeZone());
      *out = FromLocal(c.year(), c.month(), c.day(), c.hour(), c.minute(), c.second(), static_cast<int>(rem));
      return true;
    }
    case Kind::kUnixS: {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || std::fabs(v) > 1e14) {
        return false;
      }
      *out = static_cast<TimeMs>(std::llround(v * 1000));
      return true;
    }
    case Kind::kUnixMs: {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        double d = 0;
        auto [end2, ec2] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec2 != std::errc() || end2 != text.data() + text.size() || !std::isfinite(d) || std::fabs(d) > 1e17) {
          return false;
        }
        v = static_cast<int64_t>(std::llround(d));
      }
      *out = v;
      return true;
    }
    case Kind::kPattern:
      return ParsePattern(text, out);
  }
  return false;
}

bool TimestampParser::ParsePattern(std::string_view s, TimeMs* out) const {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
  int pm = -1;  // -1: no %p, 0: AM, 1: PM
  bool hour12 = false;
  bool has_offset = false;
  int64_t offset = 0;
  size_t i = 0;
  const std::string_view f = format_;
  for (size_t k = 0; k < f.size(); ++k) {
    char c = f[k];
    if (IsBlank(c)) {
      while (i < s.size() && IsBlank(s[i])) ++i;
      continue;
    }
    if (c != '%') {
      if (i >= s.size() || s[i] != c) return false;
      ++i;
      continue;
    }
    char d = f[++k];
    int64_t v = 0;
    int index = 0;
    switch (d) {
      case 'Y':
        if (!Digits(s, &i, 4, &year)) return false;
        break;
      case 'y':
        if (!Digits(s, &i, 2, &v)) return false;
        year = v < 69 ? 2000 + v : 1900 + v;
        break;
      case 'm':
        if (!Digits(s, &i, 2, &month)) return false;
        break;
      case 'e':
        while (i < s.size() && IsBlank(s[i])) ++i;
        [[fallthrough]];
      case 'd':
        if (!Digits(s, &i, 2, &day)) return false;
        break;
      case 'H':
        if (!Digits(s, &i, 2, &hour)) return false;
        break;
      case 'I':
        if (!Digits(s, &i, 2, &hour)) return false;
        hour12 = true;
        break;
      case 'M':
        if (!Digits(s, &i, 2, &minute)) return false;
        break;
      case 'S':
        if (!Digits(s, &i, 2, &second)) return false;
        break;
      case 'f': {
        size_t start = i;
        if (!Digits(s, &i, 9, &v)) return false;
        int n = static_cast<int>(i - start);
        while (n > 3) {
          v /= 10;
          --n;
        }
        while (n < 3) {
          v *= 10;
          ++n;
        }
        millis = v;
        break;
      }
      case 'p': {
        std::string_view rest = s.substr(i);
        if (rest.size() >= 2 && EqualsIgnoreCase(rest.substr(0, 2), "AM")) {
          pm = 0;
        } else if (rest.size() >= 2 && EqualsIgnoreCase(rest.substr(0, 2), "PM")) {
          pm = 1;
        } else {
          return false;
        }
        i += 2;
        break;
      }
      case 'b':
      case 'B':
      case 'h':
        if (!Name(s, &i, kMonths, &index)) return false;
        month = index + 1;
        break;
      case 'a':
      case 'A':
        if (!Name(s, &i, kWeekdays, &index)) return false;
        break;
      case 'z':
        if (!ParseOffset(s, &i, &offset)) return false;
        has_offset = true;
        break;
      case '%':
        if (i >= s.size() || s[i] != '%') return false;
        ++i;
        break;
      default:
        return false;
    }
  }
  while (i < s.size() && IsBlank(s[i])) ++i;
  if (i != s.size()) return false;
  if (hour12 || pm >= 0) {
    if (hour < 1 || hour > 12) return false;
    if (pm == 1 && hour != 12) hour += 12;
    if (pm == 0 && hour == 12) hour = 0;
  }
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, static_cast<int>(month)) || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  if (has_offset) {
    int64_t secs = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
                   minute * 60 + second - offset;
    *out = secs * 1000 + millis;
    return true;
  }
  *out = FromLocal(year, static_cast<int>(month), static_cast<int>(day), static_cast<int>(hour),
                   static_cast<int>(minute), static_cast<int>(second), static_cast<int>(millis));
  return true;
}

}  // namespace facet::importer::internal
