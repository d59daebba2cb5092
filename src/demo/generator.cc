// GeneratePerson: one synthetic customer's multi-channel history.
//
// A person is first drawn as a Profile (who they are, which channels they
// use, when they are active, how much they spend), then each channel adds its
// events. Identifiers that other persons may share (phone) are pure functions
// of (seed, index) on their own random streams, so person i can reuse person
// j's phone without generating person j.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/time_format.h"
#include "demo/demo.h"
#include "demo/internal/catalog.h"
#include "demo/internal/json_writer.h"
#include "demo/internal/random.h"

namespace facet::demo {
namespace {

using internal::Category;
using internal::JsonWriter;
using internal::Mix;
using internal::Rng;

constexpr TimeMs kSecond = 1000;
constexpr TimeMs kMinute = 60 * kSecond;
constexpr TimeMs kHour = 60 * kMinute;
constexpr TimeMs kDay = 24 * kHour;
constexpr TimeMs kBeijing = 8 * kHour;  // UTC+8, no daylight saving

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

// Random identifier text over `alphabet`.
std::string RandomText(Rng& rng, std::string_view prefix, int length, std::string_view alphabet) {
  std::string s(prefix);
  for (int i = 0; i < length; ++i) s.push_back(alphabet[rng.Below(alphabet.size())]);
  return s;
}

constexpr std::string_view kOpenIdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Uuid(Rng& rng, bool upper) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  const char* hex = upper ? kUpper : kLower;
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    int v = static_cast<int>(rng.Below(16));
    if (i == 12) v = 4;             // version 4
    if (i == 16) v = 8 + (v & 3);   // variant 10xx
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

// The phone as a person would type it into a form.
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

enum class Lifecycle { kNew, kActive, kLapsed };

struct Profile {
  uint64_t index = 0;
  bool member = false;
  bool female = true;
  std::string name;
  std::string pinyin;  // for the email handle
  int birth_year = 1990, birth_month = 1, birth_day = 1;
  int age = 30;
  int city = 0;
  int home_store = 0;
  std::string phone;          // 11 digits
  bool shares_phone = false;  // uses another member's phone
  std::string email;
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
  int device = 0;
};

// Day numbers (local) of the window.
struct Window {
  TimeMs start_ms;
  TimeMs end_ms;
  int64_t first_day;  // local day containing start_ms
  int64_t last_day;   // local day containing end_ms - 1
};

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

// A time on a day in [day_lo, day_hi] (local), shaped by the weekday and
// hour weights.
TimeMs SampleTime(Rng& rng, int64_t day_lo, int64_t day_hi, const int (&hours)[24],
                  const int (&weekdays)[7]) {
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
  return day * kDay + hour * kHour + second * kSecond + static_cast<TimeMs>(rng.Below(1000)) -
         kBeijing;
}

Profile MakeProfile(uint64_t seed, uint64_t index, const Window& w) {
  Rng rng(Mix(seed, index, kProfileStream));
  Profile p;
  p.index = index;
  p.member = IsMember(seed, index);
  p.female = rng.Chance(0.74);

  const auto surnames = internal::Surnames();
  // Common surnames are much more common: a skewed pick over the list.
  const auto& surname = surnames[static_cast<size_t>(
      std::pow(rng.Double(), 1.8) * static_cast<double>(surnames.size()))];
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

  p.city = static_cast<int>(&PickWeighted(rng, internal::Cities(),
                                          [](const internal::City& c) { return c.weight; }) -
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
    const auto& domain = PickWeighted(rng, internal::EmailDomains(),
                                      [](const internal::WeightedName& d) { return d.weight; });
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
      p.registered_at = w.start_ms - static_cast<TimeMs>(rng.Range(1, 1500)) * kDay -
                        static_cast<TimeMs>(rng.Below(kDay));
    } else {
      p.registered_at = SampleTime(rng, p.first_day, p.first_day, internal::kOnlineHours,
                                   internal::kOnlineWeekdays);
    }
  }

  Rng ids(Mix(seed, index, kIdStream));
  p.openid = RandomText(ids, "o", 27, kOpenIdAlphabet);
  p.unionid = ids.Chance(0.45) ? RandomText(ids, "o", 27, kOpenIdAlphabet) : std::string();
  p.device = static_cast<int>(&PickWeighted(ids, internal::Devices(),
                                            [](const internal::Device& d) { return d.weight; }) -
                              internal::Devices().data());
  p.device_id = internal::Devices()[p.device].ios ? Uuid(ids, true)
                                                  : RandomText(ids, "", 16, "0123456789abcdef");
  p.app_anon = Uuid(ids, false);
  p.web_anon = Uuid(ids, false);
  p.pay_id = RandomText(ids, "wxpay_", 20, kOpenIdAlphabet);
  return p;
}

// Collects one person's events, then emits them in time order.
class PersonEvents {
 public:
  PersonEvents(uint64_t seed, const Profile& p, const Window& w)
      : seed_(seed), p_(p), w_(w), rng_(Mix(seed, p.index, kEventStream)) {}

  Rng& rng() { return rng_; }
  const Profile& profile() const { return p_; }
  const Window& window() const { return w_; }

  // Starts an event; returns nullptr (and drops it) when `ts` falls outside
  // the window. The caller adds fields and calls End().
  JsonWriter* Begin(std::string_view type, TimeMs ts, std::string_view user_id,
                    std::string_view anonymous_id) {
    const uint64_t n = next_++;
    if (ts < w_.start_ms || ts >= w_.end_ms) return nullptr;
    pending_.push_back({ts, std::string()});
    std::string& out = pending_.back().json;
    out.reserve(512);
    writer_.emplace(&out);
    JsonWriter& j = *writer_;
    j.BeginObject();
    j.Key("type").String(type);
    std::string id = "demo-";
    id += std::to_string(seed_);
    id += '-';
    id += std::to_string(p_.index);
    id += '-';
    id += std::to_string(n);
    j.Key("messageId").String(id);
    j.Key("timestamp").String(FormatIso8601(ts));
    if (!user_id.empty()) j.Key("userId").String(user_id);
    if (!anonymous_id.empty()) j.Key("anonymousId").String(anonymous_id);
    return &j;
  }

  void End() { writer_->EndObject(); }

  void Finish(std::vector<std::string>* out) {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& a, const Pending& b) { return a.ts < b.ts; });
    for (auto& e : pending_) out->push_back(std::move(e.json));
    pending_.clear();
  }

 private:
  struct Pending {
    TimeMs ts;
    std::string json;
  };

  uint64_t seed_;
  const Profile& p_;
  const Window& w_;
  Rng rng_;
  uint64_t next_ = 0;
  std::vector<Pending> pending_;
  std::optional<JsonWriter> writer_;
};

void WriteLibrary(JsonWriter& j) {
  j.Key("library").BeginObject().Key("name").String("facet-demo").Key("version").String("1.0").EndObject();
}

void WriteLocation(JsonWriter& j, std::string_view city, int64_t lat_e4, int64_t lon_e4) {
  j.Key("location").BeginObject();
  j.Key("city").String(city).Key("country").String("CN");
  j.Key("latitude").Fixed(lat_e4, 4).Key("longitude").Fixed(lon_e4, 4);
  j.EndObject();
}

void WriteProduct(JsonWriter& j, const internal::Product& product) {
  j.Key("product_id").String(product.id).Key("name").String(product.name);
  j.Key("category").String(product.category).Key("price").Fixed(product.price_fen, 2);
  j.Key("currency").String("CNY");
}

const internal::Product& PickProduct(Rng& rng, Category kind) {
  const auto idx = internal::ProductsOfKind(kind);
  const auto products = internal::Products();
  uint64_t total = 0;
  for (int i : idx) total += static_cast<uint64_t>(products[i].weight);
  uint64_t x = rng.Below(total);
  for (int i : idx) {
    if (x < static_cast<uint64_t>(products[i].weight)) return products[i];
    x -= static_cast<uint64_t>(products[i].weight);
  }
  return products[idx.back()];
}

// A product a person might look at, leaning to what they buy.
const internal::Product& BrowseProduct(Rng& rng, const Profile& p) {
  static constexpr int kFemale[] = {30, 30, 12, 8, 9, 4, 5, 2};
  static constexpr int kMale[] = {38, 6, 14, 8, 16, 10, 6, 2};
  return PickProduct(rng, static_cast<Category>(rng.Weighted(p.female ? kFemale : kMale)));
}

// Identity carried by a mini-program or app event at `ts`.
struct SessionIds {
  std::string_view user_id;
  std::string_view anonymous_id;
};

// Mini-program, app or web browsing sessions, each a few events.
enum class Surface { kMiniProgram, kApp, kWeb };

// `with_traits`: add the openid (mini-program only); `with_union`: and the
// unionid, when the person has one.
void WriteSurfaceContext(JsonWriter& j, const Profile& p, Surface s, bool with_traits,
                         bool with_union = false) {
  j.Key("context").BeginObject();
  WriteLibrary(j);
  switch (s) {
    case Surface::kMiniProgram:
      j.Key("channel").String("mini_program");
      j.Key("app").BeginObject().Key("name").String("明眸视光会员中心").Key("version").String("3.8.2").EndObject();
      if (with_traits) {
        j.Key("traits").BeginObject().Key("wechat_openid").String(p.openid);
        if (with_union && !p.unionid.empty()) j.Key("wechat_unionid").String(p.unionid);
        j.EndObject();
      }
      break;
    case Surface::kApp: {
      const auto& d = internal::Devices()[p.device];
      j.Key("channel").String("app");
      j.Key("app").BeginObject().Key("name").String("明眸视光").Key("version").String("5.2.0").Key("build").String("520").EndObject();
      j.Key("device").BeginObject().Key("id").String(p.device_id).Key("manufacturer").String(d.manufacturer);
      j.Key("model").String(d.model).Key("type").String(d.ios ? "ios" : "android").EndObject();
      j.Key("os").BeginObject().Key("name").String(d.ios ? "iOS" : "Android").Key("version").String(d.ios ? "17.4" : "14").EndObject();
      break;
    }
    case Surface::kWeb:
      j.Key("channel").String("web");
      j.Key("userAgent").String(
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36");
      break;
  }
  j.Key("timezone").String("Asia/Shanghai");
  j.EndObject();
}

// Sessions on one surface. Members log in at some session (often the first);
// from then on their events carry the member id. The login itself is an
// identify that links the anonymous id (and openid / device) to the member.
void GenerateSessions(PersonEvents& pe, Surface surface) {
  Rng& rng = pe.rng();
  const Profile& p = pe.profile();
  const double mean = surface == Surface::kWeb ? 0.8 : surface == Surface::kApp ? 1.2 : 1.4;
  const int sessions = std::clamp(
      static_cast<int>(std::lround(rng.Pareto(0.6, 1.8) * mean * std::sqrt(p.engagement))), 1, 80);
  std::vector<TimeMs> starts;
  starts.reserve(static_cast<size_t>(sessions));
  const auto& hours = p.night_owl ? internal::kNightOwlHours : internal::kOnlineHours;
  for (int i = 0; i < sessions; ++i) {
    starts.push_back(SampleTime(rng, p.first_day, p.last_day, hours, internal::kOnlineWeekdays));
  }
  std::sort(starts.begin(), starts.end());

  const std::string member_id = p.member ? MemberId(p.index) : std::string();
  // Which session the member logs in at; -1 = never on this surface.
  int login = -1;
  if (p.member && rng.Chance(surface == Surface::kWeb ? 0.5 : 0.85)) {
    login = rng.Chance(0.55) ? 0 : static_cast<int>(rng.Below(static_cast<uint64_t>(sessions)));
  }
  const std::string_view anon = surface == Surface::kMiniProgram ? std::string_view(p.openid)
                                : surface == Surface::kApp       ? std::string_view(p.app_anon)
                                                                 : std::string_view(p.web_anon);

  for (int s = 0; s < sessions; ++s) {
    TimeMs t = starts[static_cast<size_t>(s)];
    const bool logged_in = login >= 0 && s >= login;
    const std::string_view uid = logged_in ? std::string_view(member_id) : std::string_view();
    const bool first_ever = s == 0;

    if (surface == Surface::kMiniProgram) {
      if (auto* j = pe.Begin("track", t, uid, anon)) {
        const auto& scene = PickWeighted(rng, internal::MiniProgramScenes(),
                                         [](const internal::Scene& sc) { return sc.weight; });
        j->Key("event").String("Mini Program Opened");
        j->Key("properties").BeginObject().Key("scene").Int(scene.code).Key("scene_name").String(scene.name);
        j->Key("first_visit").Bool(first_ever).EndObject();
        WriteSurfaceContext(*j, p, surface, true, true);
        pe.End();
      }
    } else if (surface == Surface::kApp) {
      if (first_ever) {
        if (auto* j = pe.Begin("track", t - 40 * kSecond, uid, anon)) {
          j->Key("event").String("Application Installed");
          j->Key("properties").BeginObject().Key("version").String("5.2.0").Key("build").String("520").EndObject();
          WriteSurfaceContext(*j, p, surface, false);
          pe.End();
        }
      }
      if (auto* j = pe.Begin("track", t, uid, anon)) {
        j->Key("event").String("Application Opened");
        j->Key("properties").BeginObject().Key("from_background").Bool(!first_ever && rng.Chance(0.4));
        j->Key("version").String("5.2.0").EndObject();
        WriteSurfaceContext(*j, p, surface, false);
        pe.End();
      }
    }

    if (s == login) {
      t += rng.Range(10, 60) * kSecond;
      if (auto* j = pe.Begin("identify", t, member_id, anon)) {
        j->Key("traits").BeginObject();
        if (surface == Surface::kMiniProgram) {
          j->Key("wechat_openid").String(p.openid);
          if (!p.unionid.empty()) j->Key("wechat_unionid").String(p.unionid);
          j->Key("phone").String(p.phone);  // WeChat's phone-number authorisation
        } else if (!p.email.empty() && (surface == Surface::kWeb || rng.Chance(0.5))) {
          j->Key("email").String(p.email);
        } else {
          j->Key("phone").String(p.phone);
        }
        j->Key("login_method").String(surface == Surface::kMiniProgram ? "wechat" : rng.Chance(0.6) ? "sms_code" : "password");
        j->EndObject();
        WriteSurfaceContext(*j, p, surface, false);
        pe.End();
      }
    }

    const int views = static_cast<int>(rng.Range(1, surface == Surface::kWeb ? 4 : 3));
    for (int v = 0; v < views; ++v) {
      t += rng.Range(8, 150) * kSecond;
      const bool detail = rng.Chance(0.45);
      const internal::Product* product = detail ? &BrowseProduct(rng, p) : nullptr;
      if (surface == Surface::kWeb) {
        const auto pages = internal::WebPages();
        const auto& page = pages[rng.Below(pages.size())];
        if (auto* j = pe.Begin("page", t, uid, anon)) {
          std::string path = product ? "/product/" + std::string(product->id) : std::string(page.path);
          std::string title = product ? std::string(product->name) + " - 明眸视光" : std::string(page.title);
          j->Key("name").String(title);
          j->Key("properties").BeginObject().Key("path").String(path);
          j->Key("url").String("https://www.mingmou-optical.cn" + path).Key("title").String(title);
          const auto ref = v == 0 ? Pick(rng, internal::Referrers()) : std::string_view("https://www.mingmou-optical.cn/");
          j->Key("referrer").String(ref).EndObject();
          WriteSurfaceContext(*j, p, surface, false);
          pe.End();
        }
      } else {
        const auto screens = surface == Surface::kApp ? internal::AppScreens() : internal::MiniProgramScreens();
        const std::string_view screen = product ? std::string_view("商品详情") : Pick(rng, screens);
        if (auto* j = pe.Begin("screen", t, uid, anon)) {
          j->Key("name").String(screen);
          j->Key("properties").BeginObject();
          if (product) WriteProduct(*j, *product);
          j->EndObject();
          WriteSurfaceContext(*j, p, surface, surface == Surface::kMiniProgram);
          pe.End();
        }
      }
      if (product && rng.Chance(0.35)) {
        t += rng.Range(5, 40) * kSecond;
        if (auto* j = pe.Begin("track", t, uid, anon)) {
          j->Key("event").String(rng.Chance(0.6) ? "Product Viewed" : "Product Added");
          j->Key("properties").BeginObject();
          WriteProduct(*j, *product);
          j->Key("quantity").Int(1).EndObject();
          WriteSurfaceContext(*j, p, surface, surface == Surface::kMiniProgram);
          pe.End();
        }
      }
    }
    if (surface != Surface::kWeb && rng.Chance(0.08)) {
      t += rng.Range(20, 200) * kSecond;
      if (auto* j = pe.Begin("track", t, uid, anon)) {
        if (rng.Chance(0.5)) {
          j->Key("event").String("Coupon Claimed");
          const int value = rng.Chance(0.7) ? 20 : 50;
          j->Key("properties").BeginObject().Key("coupon_id").String(value == 20 ? "CP-NEW20" : "CP-VIP50");
          j->Key("value").Int(value).Key("currency").String("CNY").EndObject();
        } else {
          const auto& store = internal::Stores()[static_cast<size_t>(p.home_store)];
          j->Key("event").String("Eye Exam Booked");
          j->Key("properties").BeginObject().Key("store_id").String(store.id).Key("store_name").String(store.name);
          j->Key("service").String(p.age < 18 || rng.Chance(0.1) ? "青少年近视检查" : "专业电脑验光").EndObject();
        }
        WriteSurfaceContext(*j, p, surface, surface == Surface::kMiniProgram);
        pe.End();
      }
    }
  }
}

// CRM member import: the full member record as an identify.
void GenerateCrm(PersonEvents& pe) {
  Rng& rng = pe.rng();
  const Profile& p = pe.profile();
  const Window& w = pe.window();
  const std::string member_id = MemberId(p.index);
  // The initial CRM export lands on the first days of the history; new
  // members are exported the night after they register.
  TimeMs at = p.registered_at < w.start_ms
                  ? w.start_ms + static_cast<TimeMs>(rng.Below(static_cast<uint64_t>(std::min<TimeMs>(2 * kDay, w.end_ms - w.start_ms))))
                  : p.registered_at + kHour * rng.Range(1, 20);
  at = std::min(at, w.end_ms - 1);
  const int updates = rng.Chance(0.15) ? 2 : 1;
  for (int u = 0; u < updates; ++u) {
    if (u == 1) at = std::min(w.end_ms - 1, at + rng.Range(7, 90) * kDay);
    JsonWriter* j = pe.Begin("identify", at, member_id, "");
    if (!j) continue;
    j->Key("traits").BeginObject();
    j->Key("name").String(p.name).Key("gender").String(p.female ? "female" : "male");
    std::string birthday;
    AppendPadded(&birthday, static_cast<uint64_t>(p.birth_year), 4);
    birthday += '-';
    AppendPadded(&birthday, static_cast<uint64_t>(p.birth_month), 2);
    birthday += '-';
    AppendPadded(&birthday, static_cast<uint64_t>(p.birth_day), 2);
    j->Key("birthday").String(birthday).Key("age").Int(p.age);
    const auto& city = internal::Cities()[static_cast<size_t>(p.city)];
    j->Key("city").String(city.name).Key("province").String(city.province);
    j->Key("phone").String(FormatPhone(rng, p.phone));
    if (!p.email.empty()) {
      std::string email = p.email;
      if (rng.Chance(0.08)) std::transform(email.begin(), email.begin() + 1, email.begin(),
                                              [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      j->Key("email").String(email);
    }
    const std::string_view level = u == 1 && p.member_level == "普通" ? "银卡" : std::string_view(p.member_level);
    j->Key("member_level").String(level);
    j->Key("registration_channel").String(p.registration_channel);
    j->Key("registered_at").String(FormatIso8601(p.registered_at));
    j->Key("home_store_id").String(internal::Stores()[static_cast<size_t>(p.home_store)].id);
    j->Key("points").Int(static_cast<int64_t>(p.value * 800) + rng.Range(0, 500));
    j->Key("sms_opt_in").Bool(rng.Chance(0.7));
    j->EndObject();
    j->Key("context").BeginObject();
    WriteLibrary(*j);
    j->Key("channel").String("crm").EndObject();
    pe.End();
  }
}

// An order's basket, by the kind of visit.
void WriteBasket(Rng& rng, const Profile& p, JsonWriter& j, int64_t* total_fen) {
  struct Line {
    const internal::Product* product;
    int quantity;
  };
  std::vector<Line> lines;
  const double big = std::min(0.6, 0.05 * p.value);
  const double r = rng.Double();
  if (r < big) {  // glasses: exam + frame + lenses
    lines.push_back({&PickProduct(rng, Category::kService), 1});
    if (lines.back().product->id != "SKU70002") {  // an ortho-k fitting is the whole order
      lines.push_back({&PickProduct(rng, Category::kFrame), 1});
      lines.push_back({&PickProduct(rng, Category::kSpectacleLens), 1});
    }
  } else if (r < big + 0.08) {
    lines.push_back({&PickProduct(rng, Category::kSunglasses), 1});
  } else {  // lenses and care, the everyday order
    const bool colored = p.female && p.age < 35 && rng.Chance(0.45);
    lines.push_back({&PickProduct(rng, colored ? Category::kColoredLens : Category::kContactLens),
                     static_cast<int>(rng.Range(1, p.value > 3 ? 4 : 2))});
    if (rng.Chance(0.55)) lines.push_back({&PickProduct(rng, Category::kCare), static_cast<int>(rng.Range(1, 2))});
    if (rng.Chance(0.25)) lines.push_back({&PickProduct(rng, Category::kEyeCare), 1});
  }
  j.Key("products").BeginArray();
  *total_fen = 0;
  for (const Line& l : lines) {
    j.BeginObject();
    WriteProduct(j, *l.product);
    j.Key("quantity").Int(l.quantity);
    j.EndObject();
    *total_fen += l.product->price_fen * l.quantity;
  }
  j.EndArray();
}

void WriteOrder(PersonEvents& pe, TimeMs t, std::string_view uid, std::string_view anon,
                std::string_view channel, const internal::Store* store, const std::string& phone) {
  Rng& rng = pe.rng();
  const Profile& p = pe.profile();
  JsonWriter* j = pe.Begin("track", t, uid, anon);
  if (!j) return;
  j->Key("event").String("Order Completed");
  j->Key("properties").BeginObject();
  std::string order_id = channel == "pos" ? "SO" : "WO";
  const std::string date = FormatIso8601(t + kBeijing);
  order_id.append(date, 0, 4).append(date, 5, 2).append(date, 8, 2);
  AppendPadded(&order_id, Mix(p.index, static_cast<uint64_t>(t)) % 100'000'000, 8);
  j->Key("order_id").String(order_id);
  if (store) j->Key("store_id").String(store->id).Key("store_name").String(store->name);
  int64_t total = 0;
  WriteBasket(rng, p, *j, &total);
  int64_t discount = 0;
  if (p.member && !uid.empty()) discount = total * (p.member_level == "钻石" ? 15 : p.member_level == "金卡" ? 10 : 5) / 100;
  if (rng.Chance(0.15)) discount += std::min<int64_t>(total / 4, 2000);
  j->Key("discount").Fixed(discount, 2);
  j->Key("revenue").Fixed(total - discount, 2).Key("currency").String("CNY");
  j->Key("payment_method").String(channel == "pos" ? Pick(rng, internal::PaymentMethods()) : std::string_view("微信支付"));
  j->Key("channel").String(channel);
  j->EndObject();
  j->Key("context").BeginObject();
  WriteLibrary(*j);
  j->Key("channel").String(channel);
  if (store) {
    const auto& city = internal::Cities()[static_cast<size_t>(store->city)];
    WriteLocation(*j, city.name, store->latitude_e4, store->longitude_e4);
  }
  if (!phone.empty()) j->Key("traits").BeginObject().Key("phone").String(phone).EndObject();
  j->EndObject();
  pe.End();
}

void GeneratePos(PersonEvents& pe) {
  Rng& rng = pe.rng();
  const Profile& p = pe.profile();
  int orders = std::clamp(static_cast<int>(std::lround(rng.Pareto(0.8, 1.8) * std::sqrt(p.value))), 1, 40);
  if (p.lifecycle == Lifecycle::kNew) orders = std::min(orders, 2);
  const std::string member_id = p.member ? MemberId(p.index) : std::string();
  for (int o = 0; o < orders; ++o) {
    const TimeMs t = SampleTime(rng, p.first_day, p.last_day, internal::kStoreHours, internal::kStoreWeekdays);
    int store_index = p.home_store;
    const auto roll = rng.Below(100);
    if (roll >= 75 && roll < 95) {
      const auto local = internal::StoresOfCity(p.city);
      store_index = local[rng.Below(local.size())];
    } else if (roll >= 95) {
      store_index = static_cast<int>(rng.Below(internal::Stores().size()));
    }
    const internal::Store* store = &internal::Stores()[static_cast<size_t>(store_index)];
    // Members show their member code most of the time, else just give their
    // phone number; guests sometimes leave a phone number for the receipt.
    std::string_view uid;
    std::string phone;
    const auto how = rng.Below(100);
    if (p.member) {
      if (how < 60) uid = member_id;
      else if (how < 90) phone = FormatPhone(rng, p.phone);
    } else if (how < 50) {
      phone = FormatPhone(rng, p.phone);
    }
    WriteOrder(pe, t, uid, p.pay_id, "pos", store, phone);
  }
}

void GenerateOnlineOrders(PersonEvents& pe) {
  Rng& rng = pe.rng();
  const Profile& p = pe.profile();
  const int orders = static_cast<int>(rng.Range(1, 2));
  const std::string member_id = p.member ? MemberId(p.index) : std::string();
  const auto& hours = p.night_owl ? internal::kNightOwlHours : internal::kOnlineHours;
  for (int o = 0; o < orders; ++o) {
    const TimeMs t = SampleTime(rng, p.first_day, p.last_day, hours, internal::kOnlineWeekdays);
    const bool mini = p.wechat && (!p.app || rng.Chance(0.7));
    WriteOrder(pe, t, member_id, mini ? p.openid : p.app_anon, mini ? "mini_program" : "app", nullptr,
               p.member ? std::string() : p.phone);
  }
}

void GenerateQrScans(PersonEvents& pe) {
  Rng& rng = pe.rng();
  const Profile& p = pe.profile();
  const int scans = static_cast<int>(rng.Range(1, 3));
  const auto& city = internal::Cities()[static_cast<size_t>(p.city)];
  for (int s = 0; s < scans; ++s) {
    const TimeMs t = SampleTime(rng, p.first_day, p.last_day, internal::kOnlineHours, internal::kOnlineWeekdays);
    const auto& product = PickProduct(rng, rng.Chance(0.6) ? Category::kContactLens
                                                : rng.Chance(0.5) ? Category::kColoredLens
                                                                  : Category::kCare);
    // Logged-in mini-program members scan as themselves.
    const std::string member_id = p.member && rng.Chance(0.6) ? MemberId(p.index) : std::string();
    JsonWriter* j = pe.Begin("track", t, member_id, p.openid);
    if (!j) continue;
    j->Key("event").String("QR Code Scanned");
    j->Key("properties").BeginObject();
    j->Key("product_id").String(product.id).Key("product_name").String(product.name);
    j->Key("category").String(product.category);
    std::string batch = "B";
    const std::string date = FormatIso8601(t - rng.Range(30, 400) * kDay);
    batch.append(date, 2, 2).append(date, 5, 2);
    AppendPadded(&batch, rng.Below(1000), 3);
    j->Key("batch").String(batch);
    j->Key("serial").String(RandomText(rng, "", 12, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"));
    j->Key("verification").String(rng.Chance(0.985) ? "genuine" : "already_scanned");
    j->Key("scan_city").String(city.name).EndObject();
    j->Key("context").BeginObject();
    WriteLibrary(*j);
    j->Key("channel").String("mini_program");
    j->Key("traits").BeginObject().Key("wechat_openid").String(p.openid).EndObject();
    // Scans happen around town, within a few kilometres of the centre.
    WriteLocation(*j, city.name, city.latitude_e4 + rng.Range(-400, 400), city.longitude_e4 + rng.Range(-400, 400));
    j->EndObject();
    pe.End();
  }
}

}  // namespace

void GeneratePerson(uint64_t seed, uint64_t index, TimeMs end_ms, int days,
                    std::vector<std::string>* events) {
  const Window w = MakeWindow(end_ms, std::max(days, 1));
  const Profile p = MakeProfile(seed, index, w);
  PersonEvents pe(seed, p, w);
  if (p.member) GenerateCrm(pe);
  if (p.wechat) GenerateSessions(pe, Surface::kMiniProgram);
  if (p.app) GenerateSessions(pe, Surface::kApp);
  if (p.web) GenerateSessions(pe, Surface::kWeb);
  if (p.qr) GenerateQrScans(pe);
  if (p.pos) GeneratePos(pe);
  if (p.online_buyer) GenerateOnlineOrders(pe);
  pe.Finish(events);
}

}  // namespace facet::demo
