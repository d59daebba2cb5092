#include "base/time_format.h"

#include <chrono>
#include <cstdio>

#include "base/clock.h"

namespace facet {

TimeMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

namespace {

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool AtEnd() const { return i >= s.size(); }
  char Peek() const { return AtEnd() ? '\0' : s[i]; }
  // Reads exactly n digits.
  bool Digits(int n, int* out) {
    int v = 0;
    for (int k = 0; k < n; ++k) {
      if (AtEnd() || s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i++] - '0');
    }
    *out = v;
    return true;
  }
  bool Expect(char c) {
    if (Peek() != c) return false;
    ++i;
    return true;
  }
};

absl::Status Bad(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError("invalid timestamp \"" + std::string(text.substr(0, 64)) +
                                    "\": " + std::string(why));
}

}  // namespace

absl::StatusOr<TimeMs> ParseIso8601(std::string_view text) {
  Cursor c{text};
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!c.Digits(4, &y) || !c.Expect('-') || !c.Digits(2, &mo) || !c.Expect('-') || !c.Digits(2, &d))
    return Bad(text, "expected YYYY-MM-DD");
  if (mo < 1 || mo > 12) return Bad(text, "month out of range");
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d < 1 || d > kDays[mo - 1]) return Bad(text, "day out of range");
  int64_t millis = 0;
  int64_t offset_min = 0;
  if (!c.AtEnd()) {
    if (c.Peek() != 'T' && c.Peek() != 't' && c.Peek() != ' ') return Bad(text, "expected 'T' after date");
    ++c.i;
    if (!c.Digits(2, &h) || !c.Expect(':') || !c.Digits(2, &mi)) return Bad(text, "expected hh:mm");
    if (c.Expect(':')) {
      if (!c.Digits(2, &sec)) return Bad(text, "expected seconds");
      if (c.Peek() == '.' || c.Peek() == ',') {
        ++c.i;
        int digits = 0;
        int64_t frac = 0;
        while (!c.AtEnd() && c.Peek() >= '0' && c.Peek() <= '9') {
          if (digits < 3) frac = frac * 10 + (c.Peek() - '0');
          ++digits;
          ++c.i;
        }
        if (digits == 0) return Bad(text, "expected fraction digits");
        for (int k = digits; k < 3; ++k) frac *= 10;
        millis = frac;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return Bad(text, "time out of range");
    if (!c.AtEnd()) {
      char z = c.Peek();
      if (z == 'Z' || z == 'z') {
        ++c.i;
      } else if (z == '+' || z == '-') {
        ++c.i;
        int oh, om = 0;
        if (!c.Digits(2, &oh)) return Bad(text, "expected offset hours");
        c.Expect(':');
        if (!c.AtEnd() && !c.Digits(2, &om)) return Bad(text, "expected offset minutes");
        offset_min = (oh * 60 + om) * (z == '+' ? 1 : -1);
      } else {
        return Bad(text, "unexpected character after time");
      }
    }
    if (!c.AtEnd()) return Bad(text, "trailing characters");
  }
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + millis;
}

std::string FormatIso8601(TimeMs ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t milli = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // civil_from_days
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(milli));
  return buf;
}

}  // namespace facet
