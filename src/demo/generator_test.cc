#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/time_format.h"
#include "demo/demo.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace facet::demo {
namespace {

using nlohmann::json;

constexpr TimeMs kEnd = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int kDays = 180;
constexpr TimeMs kDayMs = 86'400'000;

std::vector<std::string> Person(uint64_t seed, uint64_t index, TimeMs end = kEnd, int days = kDays) {
  std::vector<std::string> out;
  GeneratePerson(seed, index, end, days, &out);
  return out;
}

// Parsed events of persons [0, n) for seed 42, by person.
const std::vector<std::vector<json>>& Sample() {
  static const auto* sample = [] {
    auto* s = new std::vector<std::vector<json>>();
    for (uint64_t i = 0; i < 3000; ++i) {
      std::vector<json> events;
      for (const std::string& e : Person(42, i)) events.push_back(json::parse(e));
      s->push_back(std::move(events));
    }
    return s;
  }();
  return *sample;
}

std::string Digits(const std::string& phone) {
  std::string d;
  for (char c : phone) {
    if (c >= '0' && c <= '9') d.push_back(c);
  }
  if (d.size() == 13 && d.rfind("86", 0) == 0) d = d.substr(2);
  return d;
}

bool IsMainlandMobile(const std::string& d) {
  return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9' &&
         std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

TEST(GeneratorTest, SameSeedGivesIdenticalBytes) {
  for (uint64_t i : {0u, 1u, 17u, 999u, 123456u}) {
    EXPECT_EQ(Person(7, i), Person(7, i)) << "person " << i;
  }
  EXPECT_NE(Person(7, 3), Person(8, 3));
  EXPECT_NE(Person(7, 3), Person(7, 4));
}

TEST(GeneratorTest, EveryMessageIsValidSegmentJson) {
  static const std::set<std::string> kTypes = {"identify", "track", "page", "screen"};
  const TimeMs start = kEnd - kDays * kDayMs;
  std::set<std::string> message_ids;
  size_t total = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    TimeMs previous = 0;
    for (const std::string& text : Person(42, i)) {
      ++total;
      json e = json::parse(text, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(e.is_object()) << text;
      ASSERT_TRUE(e.contains("type") && kTypes.count(e["type"].get<std::string>())) << text;
      ASSERT_TRUE(e["messageId"].is_string()) << text;
      const std::string id = e["messageId"];
      EXPECT_EQ(id.rfind("demo-42-" + std::to_string(i) + "-", 0), 0u) << id;
      EXPECT_TRUE(message_ids.insert(id).second) << "duplicate " << id;
      ASSERT_TRUE(e["timestamp"].is_string()) << text;
      auto ts = ParseIso8601(e["timestamp"].get<std::string>());
      ASSERT_TRUE(ts.ok()) << text;
      EXPECT_GE(*ts, start) << text;
      EXPECT_LT(*ts, kEnd) << text;
      EXPECT_GE(*ts, previous) << "events of a person come in time order";
      previous = *ts;
      const bool has_user = e.contains("userId") && !e["userId"].get<std::string>().empty();
      const bool has_anon = e.contains("anonymousId") && !e["anonymousId"].get<std::string>().empty();
      EXPECT_TRUE(has_user || has_anon) << text;
      if (e["type"] == "track") {
        EXPECT_FALSE(e["event"].get<std::string>().empty()) << text;
      }
      if (e.contains("properties")) {
        EXPECT_TRUE(e["properties"].is_object()) << text;
      }
      if (e.contains("traits")) {
        EXPECT_TRUE(e["traits"].is_object()) << text;
      }
      EXPECT_TRUE(e["context"].is_object()) << text;
      EXPECT_LT(text.size(), 32u * 1024) << "fits the server's event limit";
    }
  }
  EXPECT_GT(total, 2000u * 8);
}

TEST(GeneratorTest, ShortHistoriesStayInTheirWindow) {
  for (int days : {1, 3, 29}) {
    for (uint64_t i = 0; i < 300; ++i) {
      for (const std::string& text : Person(5, i, kEnd, days)) {
        auto ts = ParseIso8601(json::parse(text)["timestamp"].get<std::string>());
        ASSERT_TRUE(ts.ok());
        EXPECT_GE(*ts, kEnd - days * kDayMs);
        EXPECT_LT(*ts, kEnd);
      }
    }
  }
}

TEST(GeneratorTest, IdentifiersOverlapAcrossChannels) {
  std::map<std::string, std::set<std::string>> members_by_phone;  // CRM phone -> member ids
  std::set<std::string> pos_phones_without_user;
  int anonymous_then_identified = 0;  // an identify joining an anonymous id to a member id
  int unionids = 0, device_ids = 0, emails = 0;
  for (const auto& person : Sample()) {
    for (const json& e : person) {
      const json* traits = nullptr;
      if (e.contains("traits")) traits = &e["traits"];
      if (e["type"] == "identify" && e["context"]["channel"] == "crm") {
        const std::string phone = Digits((*traits)["phone"]);
        EXPECT_TRUE(IsMainlandMobile(phone)) << (*traits)["phone"];
        members_by_phone[phone].insert(e["userId"].get<std::string>());
        if (traits->contains("email")) ++emails;
      }
      if (e["type"] == "identify" && e.contains("userId") && e.contains("anonymousId")) {
        ++anonymous_then_identified;
      }
      if (e.value("event", "") == "Order Completed" && !e.contains("userId") && e["context"].contains("traits")) {
        pos_phones_without_user.insert(Digits(e["context"]["traits"]["phone"]));
      }
      if (e["context"].contains("traits") && e["context"]["traits"].contains("wechat_unionid")) ++unionids;
      if (e["context"].contains("device")) ++device_ids;
    }
  }
  int shared = 0;
  for (const auto& [phone, members] : members_by_phone) shared += members.size() > 1;
  EXPECT_GT(shared, 3) << "a few members share a phone";
  EXPECT_LT(shared, 100);
  int pos_matches_crm = 0;
  for (const auto& phone : pos_phones_without_user) pos_matches_crm += members_by_phone.count(phone) > 0;
  EXPECT_GT(pos_matches_crm, 100) << "POS orders with only a phone belong to CRM members";
  EXPECT_GT(anonymous_then_identified, 500);
  EXPECT_GT(unionids, 100);
  EXPECT_GT(device_ids, 100);
  EXPECT_GT(emails, 300);
}

TEST(GeneratorTest, DistributionsLookLikeARetailBusiness) {
  const auto& sample = Sample();
  size_t events = 0, anonymous_only = 0, members = 0;
  std::vector<double> revenue_per_buyer;
  std::map<std::string, int> cities, stores, channels;
  int hours[24] = {};
  for (const auto& person : sample) {
    events += person.size();
    bool has_user = false, member = false;
    double revenue = 0;
    for (const json& e : person) {
      has_user |= e.contains("userId");
      member |= e["type"] == "identify" && e["context"]["channel"] == "crm";
      channels[e["context"]["channel"].get<std::string>()]++;
      const std::string ts = e["timestamp"];
      hours[(std::stoi(ts.substr(11, 2)) + 8) % 24]++;  // Beijing time
      if (e.value("event", "") == "Order Completed") {
        EXPECT_EQ(e["properties"]["currency"], "CNY");
        EXPECT_FALSE(e["properties"]["products"].empty());
        revenue += e["properties"]["revenue"].get<double>();
        if (e["properties"].contains("store_id")) {
          stores[e["properties"]["store_id"].get<std::string>()]++;
          cities[e["context"]["location"]["city"].get<std::string>()]++;
          EXPECT_GT(e["context"]["location"]["latitude"].get<double>(), 20.0);
        }
      }
    }
    anonymous_only += !has_user;
    members += member;
    if (revenue > 0) revenue_per_buyer.push_back(revenue);
  }
  const double per_person = static_cast<double>(events) / sample.size();
  EXPECT_GE(per_person, 8.0);
  EXPECT_LE(per_person, 15.0);
  EXPECT_GT(anonymous_only, sample.size() / 5) << "many persons never identify";
  EXPECT_GT(members, sample.size() * 2 / 5);
  EXPECT_LT(members, sample.size() * 7 / 10);
  EXPECT_EQ(cities.size(), 7u);
  EXPECT_GE(stores.size(), 28u);
  for (const char* ch : {"mini_program", "app", "web", "pos", "crm"}) EXPECT_GT(channels[ch], 100) << ch;

  // Pareto-ish spend: the top 10% of buyers bring far more than 10% of revenue.
  std::sort(revenue_per_buyer.rbegin(), revenue_per_buyer.rend());
  double total = 0, top = 0;
  for (size_t i = 0; i < revenue_per_buyer.size(); ++i) {
    total += revenue_per_buyer[i];
    if (i < revenue_per_buyer.size() / 10) top += revenue_per_buyer[i];
  }
  EXPECT_GT(top / total, 0.3);

  // Evening peak: 19:00-22:59 is busier than 02:00-05:59.
  const int evening = hours[19] + hours[20] + hours[21] + hours[22];
  const int night = hours[2] + hours[3] + hours[4] + hours[5];
  EXPECT_GT(evening, 4 * night);
}

}  // namespace
}  // namespace facet::demo
