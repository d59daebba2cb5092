#include "profiles/profile.h"

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "profiles/internal/testing.h"

namespace facet::profiles {
namespace {

using internal::ExpectSameProfile;

Event Track(EventSeq seq, TimeMs ts, std::string name, std::optional<double> revenue = std::nullopt) {
  Event e;
  e.seq = seq;
  e.person = 1;
  e.type = EventType::kTrack;
  e.timestamp = ts;
  e.name = std::move(name);
  e.revenue = revenue;
  return e;
}

Event Identify(EventSeq seq, TimeMs ts, std::vector<std::pair<std::string, std::string>> traits) {
  Event e;
  e.seq = seq;
  e.person = 1;
  e.type = EventType::kIdentify;
  e.timestamp = ts;
  e.traits = std::move(traits);
  return e;
}

Event Located(EventSeq seq, TimeMs ts, std::string city) {
  Event e = Track(seq, ts, "Visited");
  e.type = EventType::kPage;
  e.location = Location{1.5, 2.5, std::move(city), "FR"};
  return e;
}

TEST(ApplyEventTest, CountsFirstLastSeenAndRevenue) {
  Profile p;
  EXPECT_TRUE(p.empty());
  ApplyEvent(Track(1, 2000, "Order Completed", 20.5), &p);
  ApplyEvent(Track(2, 1000, "Order Completed", -5.25), &p);
  ApplyEvent(Track(3, 3000, "Signed Up"), &p);
  Event page = Track(4, 1500, "Pricing", 7.0);
  page.type = EventType::kPage;
  ApplyEvent(page, &p);
  ApplyEvent(Identify(5, 2500, {}), &p);

  EXPECT_FALSE(p.empty());
  EXPECT_EQ(p.event_count, 5u);
  EXPECT_EQ(p.first_seen, 1000);
  EXPECT_EQ(p.last_seen, 3000);
  EXPECT_EQ(p.counts_by_type,
            (std::map<std::string, uint64_t, std::less<>>{{"identify", 1}, {"page", 1}, {"track", 3}}));
  // Only track events count by name and carry revenue by name.
  EXPECT_EQ(p.counts_by_event,
            (std::map<std::string, uint64_t, std::less<>>{{"Order Completed", 2}, {"Signed Up", 1}}));
  EXPECT_EQ(p.revenue_by_event, (std::map<std::string, double, std::less<>>{{"Order Completed", 15.25}}));
  EXPECT_EQ(p.revenue, 22.25);
}

TEST(ApplyEventTest, TraitsLatestTimestampWinsRegardlessOfArrivalOrder) {
  Profile p;
  ApplyEvent(Identify(10, 2000, {{"plan", "\"pro\""}, {"email", "\"a@x.io\""}}), &p);
  ApplyEvent(Identify(11, 1000, {{"plan", "\"free\""}, {"name", "\"Zo\xC3\xAB\""}}), &p);
  EXPECT_EQ(p.traits.at("plan").json, "\"pro\"");
  EXPECT_EQ(p.traits.at("plan").updated_at, 2000);
  EXPECT_EQ(p.traits.at("plan").seq, 10u);
  // An older event still sets traits nobody set later.
  EXPECT_EQ(p.traits.at("name").json, "\"Zo\xC3\xAB\"");
  EXPECT_EQ(p.traits.at("email").json, "\"a@x.io\"");

  ApplyEvent(Identify(12, 3000, {{"plan", "\"team\""}}), &p);
  EXPECT_EQ(p.traits.at("plan").json, "\"team\"");
  EXPECT_EQ(p.traits.at("plan").updated_at, 3000);
}

TEST(ApplyEventTest, TraitTieOnTimestampGoesToHigherSeq) {
  Profile p;
  ApplyEvent(Identify(20, 5000, {{"plan", "\"b\""}}), &p);
  ApplyEvent(Identify(19, 5000, {{"plan", "\"a\""}}), &p);
  EXPECT_EQ(p.traits.at("plan").json, "\"b\"");
  ApplyEvent(Identify(21, 5000, {{"plan", "\"c\""}}), &p);
  EXPECT_EQ(p.traits.at("plan").json, "\"c\"");
  EXPECT_EQ(p.traits.at("plan").seq, 21u);
}

TEST(ApplyEventTest, RepeatedKeyInOneEventKeepsTheLastInDocumentOrder) {
  Profile p;
  ApplyEvent(Identify(1, 100, {{"k", "1"}, {"k", "2"}}), &p);
  EXPECT_EQ(p.traits.at("k").json, "2");
}

TEST(ApplyEventTest, LocationLatestByTimestamp) {
  Profile p;
  ApplyEvent(Located(1, 2000, "Paris"), &p);
  ApplyEvent(Located(2, 1000, "Lyon"), &p);
  ApplyEvent(Track(3, 9000, "No location"), &p);
  ASSERT_TRUE(p.location.has_value());
  EXPECT_EQ(p.location->city, "Paris");
  EXPECT_EQ(p.location_at, 2000);
  ApplyEvent(Located(4, 2500, "Nice"), &p);
  EXPECT_EQ(p.location->city, "Nice");
  EXPECT_EQ(p.location_at, 2500);
}

TEST(ApplyEventTest, LocationBeforeEpochStillSetsAnEmptyProfile) {
  Profile p;
  ApplyEvent(Located(1, -86400000, "Berlin"), &p);
  ASSERT_TRUE(p.location.has_value());
  EXPECT_EQ(p.location->city, "Berlin");
  EXPECT_EQ(p.location_at, -86400000);
}

// A random stream with distinct timestamps (so "latest" is never a tie) and
// revenues exact in binary (so sums do not depend on order).
std::vector<Event> RandomEvents(std::mt19937* rng, int n) {
  static const char* kNames[] = {"Order Completed", "Signed Up", "Viewed", "\xE8\xB4\xAD\xE4\xB9\xB0"};
  static const char* kKeys[] = {"plan", "email", "\xE5\x9F\x8E\xE5\xB8\x82", "age"};
  std::vector<TimeMs> times(n);
  for (int i = 0; i < n; ++i) times[i] = 1000 * (i + 1);
  std::shuffle(times.begin(), times.end(), *rng);
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    Event e;
    e.seq = static_cast<EventSeq>(i + 1);
    e.person = 1;
    e.timestamp = times[i];
    e.type = static_cast<EventType>((*rng)() % 6);
    e.name = kNames[(*rng)() % 4];
    if ((*rng)() % 2) e.revenue = static_cast<double>((*rng)() % 200) / 4 - 10;
    for (int t = (*rng)() % 3; t > 0; --t) {
      e.traits.emplace_back(kKeys[(*rng)() % 4], std::to_string((*rng)() % 1000));
    }
    if ((*rng)() % 4 == 0) e.location = Location{0.5 * i, -0.25 * i, "City " + std::to_string(i), "XX"};
    events.push_back(std::move(e));
  }
  return events;
}

TEST(ApplyEventTest, ResultDoesNotDependOnArrivalOrder) {
  std::mt19937 rng(7);
  std::vector<Event> events = RandomEvents(&rng, 300);
  Profile in_order;
  for (const Event& e : events) ApplyEvent(e, &in_order);
  std::shuffle(events.begin(), events.end(), rng);
  Profile shuffled;
  for (const Event& e : events) ApplyEvent(e, &shuffled);
  ExpectSameProfile(in_order, shuffled);
}

TEST(CombineTest, EqualsApplyingBothStreamsToOneProfile) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    std::vector<Event> events = RandomEvents(&rng, 200);
    Profile a, b, both;
    for (const Event& e : events) {
      ApplyEvent(e, rng() % 3 == 0 ? &a : &b);
      ApplyEvent(e, &both);
    }
    Profile a_into_b = b;
    Combine(a, &a_into_b);
    ExpectSameProfile(a_into_b, both);
    Profile b_into_a = a;
    Combine(b, &b_into_a);
    ExpectSameProfile(b_into_a, both);
  }
}

TEST(CombineTest, EmptyIsNeutral) {
  std::mt19937 rng(3);
  Profile p;
  for (const Event& e : RandomEvents(&rng, 50)) ApplyEvent(e, &p);
  Profile into_empty;
  Combine(p, &into_empty);
  ExpectSameProfile(into_empty, p);
  Profile unchanged = p;
  Combine(Profile{}, &unchanged);
  ExpectSameProfile(unchanged, p);
  Profile empty;
  Combine(Profile{}, &empty);
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.first_seen, std::numeric_limits<TimeMs>::max());
  EXPECT_EQ(empty.last_seen, std::numeric_limits<TimeMs>::min());
}

Profile SampleProfile() {
  std::mt19937 rng(11);
  Profile p;
  for (const Event& e : RandomEvents(&rng, 80)) ApplyEvent(e, &p);
  ApplyEvent(Identify(1000, -5, {{"\xF0\x9F\x9A\x80 emoji", "\"\xE2\x9C\x93\""}, {"", "null"}}), &p);
  ApplyEvent(Located(1001, 999999, "S\xC3\xA3o Paulo"), &p);
  return p;
}

TEST(ProfileCodecTest, RoundTrips) {
  Profile p = SampleProfile();
  ASSERT_TRUE(p.location.has_value());
  absl::StatusOr<Profile> back = DecodeProfile(EncodeProfile(p));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameProfile(*back, p);
}

TEST(ProfileCodecTest, RoundTripsEmptyProfile) {
  Profile p;
  absl::StatusOr<Profile> back = DecodeProfile(EncodeProfile(p));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameProfile(*back, p);
  EXPECT_TRUE(back->empty());
}

TEST(ProfileCodecTest, EveryTruncatedPrefixIsDataLoss) {
  std::string bytes = EncodeProfile(SampleProfile());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string prefix = bytes.substr(0, n);
    absl::StatusOr<Profile> got = DecodeProfile(prefix);
    ASSERT_FALSE(got.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  }
}

TEST(ProfileCodecTest, TrailingBytesAndUnknownVersionAreDataLoss) {
  std::string bytes = EncodeProfile(SampleProfile());
  EXPECT_EQ(DecodeProfile(bytes + '\0').status().code(), absl::StatusCode::kDataLoss);
  bytes[0] = 3;
  EXPECT_EQ(DecodeProfile(bytes).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ProfileCodecTest, KeysOutOfOrderOrRepeatedAreDataLoss) {
  Profile p;
  p.counts_by_type = {{"a", 1}, {"b", 1}};
  const std::string valid = EncodeProfile(p);
  ASSERT_TRUE(DecodeProfile(valid).ok());
  const std::string entries(
      "\x01"
      "a"
      "\x01"
      "\x01"
      "b"
      "\x01",
      6);
  size_t at = valid.find(entries);
  ASSERT_NE(at, std::string::npos);

  std::string swapped = valid;
  std::swap(swapped[at + 1], swapped[at + 4]);
  EXPECT_EQ(DecodeProfile(swapped).status().code(), absl::StatusCode::kDataLoss);

  std::string repeated = valid;
  repeated[at + 4] = 'a';
  EXPECT_EQ(DecodeProfile(repeated).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ProfileCodecTest, CorruptedBytesNeverCrash) {
  const std::string valid = EncodeProfile(SampleProfile());
  std::mt19937 rng(99);
  std::uniform_int_distribution<size_t> pos(0, valid.size() - 1);
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = valid;
    for (int f = 0; f <= i % 3; ++f) bytes[pos(rng)] = static_cast<char>(rng());
    if (i % 2 == 0) bytes.resize(pos(rng));
    absl::StatusOr<Profile> got = DecodeProfile(bytes);
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
    }
  }
}

}  // namespace
}  // namespace facet::profiles
