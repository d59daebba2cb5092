// Profile: who a synthetic person is (identity, channels, active span,
// spend), drawn deterministically from (seed, index); and the time helpers
// the event generators share. Times are UTC; daily rhythms are in Beijing
// time (UTC+8).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/types.h"
#include "demo/internal/random.h"

namespace facet::demo::internal {

inline constexpr TimeMs kSecond = 1000;
inline constexpr TimeMs kMinute = 60 * kSecond;
inline constexpr TimeMs kHour = 60 * kMinute;
inline constexpr TimeMs kDay = 24 * kHour;
inline constexpr TimeMs kBeijing = 8 * kHour;  // UTC+8, no daylight saving

// Independent random streams per person.
enum Stream : uint64_t { kProfileStream = 1, kMemberStream, kPhoneStream, kIdStream, kEventStream };

template <typename T, typename W>
const T& PickWeighted(Rng& rng, std::span<const T> items, W weight) {
  uint64_t total = 0;
  for (const T& item : items) total += static_cast<uint64_t>(weight(item));
  uint64_t x = rng.Below(total);
  for (const T& item : items) {
    const auto w = static_cast<uint64_t>(weight(item));
    if (x < w) return item;
    x -= w;
  }
  return items.back();
}

template <typename T>
const T& Pick(Rng& rng, std::span<const T> items) {
  return items[rng.Below(items.size())];
}

// Appends `v` in decimal, zero-padded to `width` digits.
void AppendPadded(std::string* out, uint64_t v, int width);

// `prefix` then `length` characters drawn from `alphabet`.
std::string RandomText(Rng& rng, std::string_view prefix, int length, std::string_view alphabet);

// The phone as a person would type it into a form ("138 1234 5678", ...).
std::string FormatPhone(Rng& rng, const std::string& digits);

// "M0000124" for index 123.
std::string MemberId(uint64_t index);

enum class Lifecycle { kNew, kActive, kLapsed };

struct Profile {
  uint64_t index = 0;
  bool member = false;
  bool female = true;
  std::string name;
  std::string pinyin;  // for the email handle
  int birth_year = 1990, birth_month = 1, birth_day = 1;
  int age = 30;
  int city = 0;               // index into Cities()
  int home_store = 0;         // index into Stores()
  std::string phone;          // 11 digits
  bool shares_phone = false;  // uses another member's phone
  std::string email;          // empty: none
  bool wechat = false, app = false, web = false, pos = false, qr = false, online_buyer = false;
  bool night_owl = false;
  Lifecycle lifecycle = Lifecycle::kActive;
  int64_t first_day = 0, last_day = 0;  // active span, as local (UTC+8) day numbers
  double value = 1;                     // spend multiplier
  double engagement = 1;                // online activity multiplier
  std::string member_level;
  std::string registration_channel;
  TimeMs registered_at = 0;
  std::string openid, unionid, app_anon, device_id, web_anon, pay_id;
  int device = 0;  // index into Devices()
};

// The history's time range, in UTC and as local day numbers.
struct Window {
  TimeMs start_ms;
  TimeMs end_ms;
  int64_t first_day;  // local day containing start_ms
  int64_t last_day;   // local day containing end_ms - 1
};

Window MakeWindow(TimeMs end_ms, int days);

// A time on a local day in [day_lo, day_hi], shaped by the weekday
// (0 = Sunday) and hour weights.
TimeMs SampleTime(Rng& rng, int64_t day_lo, int64_t day_hi, const int (&hours)[24], const int (&weekdays)[7]);

Profile MakeProfile(uint64_t seed, uint64_t index, const Window& w);

}  // namespace facet::demo::internal
