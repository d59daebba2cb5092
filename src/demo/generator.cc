// GeneratePerson: one synthetic customer's multi-channel history.
//
// A person is first drawn as a Profile (internal/profile.h), then each
// channel they use adds its events.

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
#include "demo/internal/profile.h"
#include "demo/internal/random.h"

namespace facet::demo {
namespace {

using internal::AppendPadded;
using internal::Category;
using internal::FormatPhone;
using internal::JsonWriter;
using internal::kBeijing;
using internal::kDay;
using internal::kEventStream;
using internal::kHour;
using internal::kSecond;
using internal::Lifecycle;
using internal::MakeProfile;
using internal::MakeWindow;
using internal::MemberId;
using internal::Mix;
using internal::Pick;
using internal::PickWeighted;
using internal::Profile;
using internal::RandomText;
using internal::Rng;
using internal::SampleTime;
using internal::Window;

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
  JsonWriter* Begin(std::string_view type, TimeMs ts, std::string_view user_id, std::string_view anonymous_id) {
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
    std::stable_sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) { return a.ts < b.ts; });
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

// Mini-program, app or web browsing sessions, each a few events.
enum class Surface { kMiniProgram, kApp, kWeb };

// `with_traits`: add the openid (mini-program only); `with_union`: and the
// unionid, when the person has one.
void WriteSurfaceContext(JsonWriter& j, const Profile& p, Surface s, bool with_traits, bool with_union = false) {
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
      j.Key("app")
          .BeginObject()
          .Key("name")
          .String("明眸视光")
          .Key("version")
          .String("5.2.0")
          .Key("build")
          .String("520")
          .EndObject();
      j.Key("device").BeginObject().Key("id").String(p.device_id).Key("manufacturer").String(d.manufacturer);
      j.Key("model").String(d.model).Key("type").String(d.ios ? "ios" : "android").EndObject();
      j.Key("os")
          .BeginObject()
          .Key("name")
          .String(d.ios ? "iOS" : "Android")
          .Key("version")
          .String(d.ios ? "17.4" : "14")
          .EndObject();
      break;
    }
    case Surface::kWeb:
      j.Key("channel").String("web");
      j.Key("userAgent")
          .String(
              "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
              "Safari/537.36");
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
  const int sessions =
      std::clamp(static_cast<int>(std::lround(rng.Pareto(0.6, 1.8) * mean * std::sqrt(p.engagement))), 1, 80);
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
        const auto& scene =
            PickWeighted(rng, internal::MiniProgramScenes(), [](const internal::Scene& sc) { return sc.weight; });
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
        j->Key("login_method")
            .String(surface == Surface::kMiniProgram ? "wechat"
                    : rng.Chance(0.6)                ? "sms_code"
                                                     : "password");
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
          const auto ref =
              v == 0 ? Pick(rng, internal::Referrers()) : std::string_view("https://www.mingmou-optical.cn/");
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
  TimeMs at =
      p.registered_at < w.start_ms
          ? w.start_ms +
                static_cast<TimeMs>(rng.Below(static_cast<uint64_t>(std::min<TimeMs>(2 * kDay, w.end_ms - w.start_ms))))
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
      if (rng.Chance(0.08))
        std::transform(email.begin(), email.begin() + 1, email.begin(),
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

void WriteOrder(PersonEvents& pe, TimeMs t, std::string_view uid, std::string_view anon, std::string_view channel,
                const internal::Store* store, const std::string& phone) {
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
  if (p.member && !uid.empty())
    discount = total * (p.member_level == "钻石" ? 15 : p.member_level == "金卡" ? 10 : 5) / 100;
  if (rng.Chance(0.15)) discount += std::min<int64_t>(total / 4, 2000);
  j->Key("discount").Fixed(discount, 2);
  j->Key("revenue").Fixed(total - discount, 2).Key("currency").String("CNY");
  j->Key("payment_method")
      .String(channel == "pos" ? Pick(rng, internal::PaymentMethods()) : std::string_view("微信支付"));
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
      if (how < 60)
        uid = member_id;
      else if (how < 90)
        phone = FormatPhone(rng, p.phone);
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
    const auto& product = PickProduct(rng, rng.Chance(0.6)   ? Category::kContactLens
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

void GeneratePerson(uint64_t seed, uint64_t index, TimeMs end_ms, int days, std::vector<std::string>* events) {
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
