#include "demo/internal/profile.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "demo/internal/catalog.h"

namespace facet::demo::internal {
namespace {

constexpr std::string_view kOpenIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Uuid(Rng& rng, bool upper) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  const char* hex = upper ? kUpper : kLower;
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    int v = static_cast<int>(rng.Below(16));
    if (i == 12) v = 4;            // version 4
    if (i == 16) v = 8 + (v & 3);  // variant 10xx
    s.push_back(hex[v]);
  }
  return s;
}

bool IsMember(uint64_t seed, uint64_t index) {
  Rng rng(Mix(seed, index, kMemberStream));
  return rng.Chance(0.55);
}

// The person's own mobile number, 11 digits.
std::string PhoneOf(uint64_t seed, uint64_t index) {
  Rng rng(Mix(seed, index, kPhoneStream));
  std::string p(Pick(rng, internal::MobilePrefixes()));
  AppendPadded(&p, rng.Below(100'000'000), 8);
  return p;
}

}  // namespace

void AppendPadded(std::string* out, uint64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = n; i < width; ++i) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

std::string RandomText(Rng& rng, std::string_view prefix, int length, std::string_view alphabet) {
  std::string s(prefix);
  for (int i = 0; i < length; ++i) s.push_back(alphabet[rng.Below(alphabet.size())]);
  return s;
}

std::string FormatPhone(Rng& rng, const std::string& digits) {
  const auto r = rng.Below(100);
  if (r < 80) return digits;
  const std::string a = digits.substr(0, 3), b = digits.substr(3, 4), c = digits.substr(7);
  if (r < 90) return a + " " + b + " " + c;
  if (r < 95) return "+86 " + a + " " + b + " " + c;
  return "+86-" + a + "-" + b + "-" + c;
}

std::string MemberId(uint64_t index) {
  std::string s = "M";
  AppendPadded(&s, index + 1, 7);
  return s;
}

Window MakeWindow(TimeMs end_ms, int days) {
  Window w;
  w.end_ms = end_ms;
  w.start_ms = end_ms - static_cast<TimeMs>(days) * kDay;
  auto local_day = [](TimeMs t) {
    const TimeMs l = t + kBeijing;
    return l >= 0 ? l / kDay : (l - kDay + 1) / kDay;
  };
  w.first_day = local_day(w.start_ms);
  w.last_day = local_day(end_ms - 1);
  return w;
}

TimeMs SampleTime(Rng& rng, int64_t day_lo, int64_t day_hi, const int (&hours)[24], const int (&weekdays)[7]) {
  int max_w = 0;
  for (int w : weekdays) max_w = std::max(max_w, w);
  int64_t day = day_lo;
  for (int attempt = 0; attempt < 8; ++attempt) {
    day = rng.Range(day_lo, day_hi);
    const int weekday = static_cast<int>(((day + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    if (static_cast<int>(rng.Below(static_cast<uint64_t>(max_w))) < weekdays[weekday]) break;
  }
  const auto hour = static_cast<int64_t>(rng.Weighted(hours));
  const int64_t second = static_cast<int64_t>(rng.Below(3600));
  return day * kDay + hour * kHour + second * kSecond + static_cast<TimeMs>(rng.Below(1000)) - kBeijing;
}

Profile MakeProfile(uint64_t seed, uint64_t index, const Window& w) {
  Rng rng(Mix(seed, index, kProfileStream));
  Profile p;
  p.index = index;
  p.member = IsMember(seed, index);
  p.female = rng.Chance(0.74);

  const auto surnames = internal::Surnames();
  // Common surnames are much more common: a skewed pick over the list.
  const auto& surname =
      surnames[static_cast<size_t>(std::pow(rng.Double(), 1.8) * static_cast<double>(surnames.size()))];
  const auto given = p.female ? internal::FemaleGiven() : internal::MaleGiven();
  p.name = std::string(surname.hanzi);
  p.pinyin = std::string(surname.pinyin);
  const int given_len = rng.Chance(0.7) ? 2 : 1;
  for (int i = 0; i < given_len; ++i) {
    const auto& c = Pick(rng, given);
    p.name += c.hanzi;
    p.pinyin += c.pinyin;
  }

  // Mostly 20..47 (peak early thirties), some older, a few teenagers.
  p.age = 20 + static_cast<int>((rng.Double() + rng.Double() + rng.Double()) * 9);
  if (rng.Chance(0.1)) p.age += static_cast<int>(rng.Range(10, 25));
  if (rng.Chance(0.06)) p.age = static_cast<int>(rng.Range(14, 19));
  const int64_t end_year = 1970 + (w.last_day / 365);  // close enough for birthdays
  p.birth_year = static_cast<int>(end_year) - p.age;
  p.birth_month = static_cast<int>(rng.Range(1, 12));
  p.birth_day = static_cast<int>(rng.Range(1, 28));

  p.city = static_cast<int>(&PickWeighted(rng, internal::Cities(), [](const internal::City& c) { return c.weight; }) -
                            internal::Cities().data());
  const auto stores = internal::StoresOfCity(p.city);
  p.home_store = stores[rng.Below(stores.size())];

  p.phone = PhoneOf(seed, index);
  // A few members register with a phone another member already used
  // (spouses, parents registering children): a real identity conflict.
  if (p.member && rng.Chance(0.015)) {
    for (uint64_t back = 1; back <= 8 && back <= index; ++back) {
      if (IsMember(seed, index - back)) {
        p.phone = PhoneOf(seed, index - back);
        p.shares_phone = true;
        break;
      }
    }
  }
  if (rng.Chance(p.member ? 0.5 : 0.15)) {
    const auto& domain =
        PickWeighted(rng, internal::EmailDomains(), [](const internal::WeightedName& d) { return d.weight; });
    if (domain.value == "qq.com") {
      p.email = std::to_string(rng.Range(10'000'000, 3'999'999'999)) + "@qq.com";
    } else {
      p.email = p.pinyin;
      if (rng.Chance(0.3)) p.email += "_";
      if (rng.Chance(0.7)) p.email += std::to_string(rng.Chance(0.5) ? p.birth_year : rng.Range(1, 999));
      p.email += "@";
      p.email += domain.value;
    }
  }

  // Channels.
  p.wechat = rng.Chance(p.member ? 0.72 : 0.5);
  p.app = rng.Chance(p.member ? 0.3 : 0.1);
  p.web = rng.Chance(p.member ? 0.22 : 0.28);
  p.pos = rng.Chance(p.member ? 0.82 : 0.22);
  p.qr = rng.Chance(p.pos ? 0.3 : 0.08);
  if (p.qr) p.wechat = true;  // scanning opens the mini-program
  p.online_buyer = (p.wechat || p.app) && rng.Chance(0.18);
  if (!p.wechat && !p.app && !p.web && !p.pos) p.web = true;
  p.night_owl = rng.Chance(0.12);

  p.value = std::min(rng.Pareto(1.0, 1.5), 40.0);
  p.engagement = std::min(rng.Pareto(1.0, 1.6), 25.0);
  p.member_level = p.value < 1.6 ? "普通" : p.value < 3 ? "银卡" : p.value < 8 ? "金卡" : "钻石";

  // Lifecycle and active span.
  const int64_t span = w.last_day - w.first_day + 1;
  const auto roll = rng.Below(100);
  p.lifecycle = roll < 22 ? Lifecycle::kNew : roll < 70 ? Lifecycle::kActive : Lifecycle::kLapsed;
  if (span < 30 && p.lifecycle == Lifecycle::kLapsed) p.lifecycle = Lifecycle::kActive;
  switch (p.lifecycle) {
    case Lifecycle::kNew:
      p.first_day = w.last_day - rng.Range(0, std::min<int64_t>(30, span) - 1);
      p.last_day = w.last_day;
      break;
    case Lifecycle::kActive:
      p.first_day = w.first_day + rng.Range(0, std::max<int64_t>(0, span * 7 / 10));
      p.last_day = w.last_day - rng.Range(0, std::min<int64_t>(14, span - 1));
      break;
    case Lifecycle::kLapsed:
      p.first_day = w.first_day + rng.Range(0, span / 3);
      p.last_day = std::max(p.first_day, w.first_day + span * 2 / 3 - rng.Range(0, span / 3));
      break;
  }
  if (p.last_day < p.first_day) p.last_day = p.first_day;

  if (p.member) {
    static constexpr std::string_view kChannels[] = {"门店", "小程序", "APP", "官网"};
    static constexpr int kWeights[] = {45, 35, 10, 10};
    size_t ch = rng.Weighted(kWeights);
    if (ch == 1 && !p.wechat) ch = 0;
    if (ch == 2 && !p.app) ch = 0;
    if (ch == 3 && !p.web) ch = 0;
    p.registration_channel = std::string(kChannels[ch]);
    // Older members registered before the history starts.
    if (p.lifecycle != Lifecycle::kNew && rng.Chance(0.6)) {
      p.registered_at =
          w.start_ms - static_cast<TimeMs>(rng.Range(1, 1500)) * kDay - static_cast<TimeMs>(rng.Below(kDay));
    } else {
      p.registered_at = SampleTime(rng, p.first_day, p.first_day, internal::kOnlineHours, internal::kOnlineWeekdays);
    }
  }

  Rng ids(Mix(seed, index, kIdStream));
  p.openid = RandomText(ids, "o", 27, kOpenIdAlphabet);
  p.unionid = ids.Chance(0.45) ? RandomText(ids, "o", 27, kOpenIdAlphabet) : std::string();
  p.device = static_cast<int>(&PickWeighted(ids, internal::Devices(), [](const internal::Device& d) {
    return d.weight;
  }) - internal::Devices().data());
  p.device_id = internal::Devices()[p.device].ios ? Uuid(ids, true) : RandomText(ids, "", 16, "0123456789abcdef");
  p.app_anon = Uuid(ids, false);
  p.web_anon = Uuid(ids, false);
  p.pay_id = RandomText(ids, "wxpay_", 20, kOpenIdAlphabet);
  return p;
}

}  // namespace facet::demo::internal
