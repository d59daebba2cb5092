#include "profiles/event.h"

#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "profiles/internal/testing.h"

namespace facet::profiles {
namespace {

using internal::ExpectSameEvent;

Event FullEvent() {
  Event e;
  e.seq = 1234567890123ULL;
  e.person = 4000000000u;
  e.type = EventType::kIdentify;
  e.message_id = "msg-7f3a";
  e.name = "Order Completed";
  e.timestamp = 1714566600123;
  e.received_at = 1714566601000;
  e.user_id = "user-42";
  e.anonymous_id = "anon-\xE2\x9C\x93";
  e.previous_id = "prev-1";
  e.group_id = "grp-9";
  e.traits = {{"name", "\"Zo\xC3\xAB \xE6\x9D\x8E\""},
              {"\xE5\x9F\x8E\xE5\xB8\x82", "\"\xE5\x8C\x97\xE4\xBA\xAC\""},
              {"plan", "{\"tier\":\"pro\",\"seats\":5}"},
              {"", "null"},
              {"emoji", "\"\xF0\x9F\x9A\x80\""}};
  e.properties = "{\"revenue\":19.99,\"items\":[1,2,3]}";
  e.context = "{\"ip\":\"10.0.0.1\"}";
  e.revenue = -19.99;
  e.currency = "EUR";
  e.location = Location{48.8566, 2.3522, "Paris", "France"};
  return e;
}

TEST(EventTypeTest, NamesRoundTrip) {
  for (EventType t : {EventType::kIdentify, EventType::kTrack, EventType::kPage, EventType::kScreen, EventType::kGroup,
                      EventType::kAlias}) {
    auto parsed = EventTypeFromName(EventTypeName(t));
    ASSERT_TRUE(parsed.has_value()) << EventTypeName(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(EventTypeName(EventType::kTrack), "track");
  EXPECT_EQ(EventTypeName(EventType::kAlias), "alias");
}

TEST(EventTypeTest, UnknownNameIsNullopt) {
  EXPECT_FALSE(EventTypeFromName("Track").has_value());
  EXPECT_FALSE(EventTypeFromName("").has_value());
  EXPECT_FALSE(EventTypeFromName("purchase").has_value());
}

TEST(EventCodecTest, RoundTripsEveryField) {
  Event e = FullEvent();
  absl::StatusOr<Event> back = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameEvent(e, *back);
}

TEST(EventCodecTest, RoundTripsDefaultEvent) {
  Event e;
  absl::StatusOr<Event> back = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameEvent(e, *back);
  EXPECT_FALSE(back->revenue.has_value());
  EXPECT_FALSE(back->location.has_value());
}

TEST(EventCodecTest, RoundTripsExtremeNumbers) {
  Event e = FullEvent();
  e.seq = std::numeric_limits<EventSeq>::max();
  e.person = kNoPerson;
  e.timestamp = std::numeric_limits<TimeMs>::min();
  e.received_at = std::numeric_limits<TimeMs>::max();
  e.revenue = 0.0;
  e.location->latitude = -90;
  e.location->longitude = 180;
  e.location->city.clear();
  e.location->country.clear();
  absl::StatusOr<Event> back = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameEvent(e, *back);
}

TEST(EventCodecTest, RoundTripsEachTypeAndOptionalCombination) {
  for (int type = 0; type <= static_cast<int>(EventType::kAlias); ++type) {
    for (int opts = 0; opts < 4; ++opts) {
      Event e = FullEvent();
      e.type = static_cast<EventType>(type);
      if (!(opts & 1)) e.revenue.reset();
      if (!(opts & 2)) e.location.reset();
      absl::StatusOr<Event> back = DecodeEvent(EncodeEvent(e));
      ASSERT_TRUE(back.ok()) << back.status();
      ExpectSameEvent(e, *back);
    }
  }
}

TEST(EventCodecTest, EveryTruncatedPrefixIsDataLoss) {
  for (const Event& e : {FullEvent(), Event{}}) {
    std::string bytes = EncodeEvent(e);
    for (size_t n = 0; n < bytes.size(); ++n) {
      // A copy of exactly n bytes, so that sanitizers catch any over-read.
      std::string prefix = bytes.substr(0, n);
      absl::StatusOr<Event> got = DecodeEvent(prefix);
      ASSERT_FALSE(got.ok()) << "prefix of " << n << " bytes decoded";
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
    }
  }
}

TEST(EventCodecTest, TrailingBytesAreDataLoss) {
  std::string bytes = EncodeEvent(FullEvent()) + "x";
  EXPECT_EQ(DecodeEvent(bytes).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, UnknownVersionIsDataLoss) {
  std::string bytes = EncodeEvent(FullEvent());
  bytes[0] = 99;
  absl::Status s = DecodeEvent(bytes).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("version"), std::string::npos) << s;
}

TEST(EventCodecTest, UnknownTypeIsDataLoss) {
  Event e;
  e.seq = 1;
  e.person = 1;
  std::string bytes = EncodeEvent(e);
  // version, seq (1 byte), person (1 byte), type.
  bytes[3] = 17;
  EXPECT_EQ(DecodeEvent(bytes).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, HugeLengthsAreRejectedWithoutAllocating) {
  // version 1, seq 0, person 0, type 0, timestamps 0, six empty strings,
  // then a trait count of 2^62.
  std::string bytes("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
  bytes += std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
  EXPECT_EQ(DecodeEvent(bytes).status().code(), absl::StatusCode::kDataLoss);

  // A message id claiming 2^63 bytes.
  std::string big_string("\x01\x00\x00\x00\x00\x00", 6);
  big_string += std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10);
  EXPECT_EQ(DecodeEvent(big_string).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, OverlongVarintIsDataLoss) {
  std::string bytes("\x01", 1);
  bytes += std::string(11, '\xff');
  EXPECT_EQ(DecodeEvent(bytes).status().code(), absl::StatusCode::kDataLoss);
  // Ten bytes whose last one overflows 64 bits.
  std::string overflow("\x01", 1);
  overflow += std::string(9, '\xff');
  overflow += '\x02';
  EXPECT_EQ(DecodeEvent(overflow).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, PersonOutOfRangeIsDataLoss) {
  // seq 0, then a person id of 2^32.
  std::string bytes("\x01\x00\x80\x80\x80\x80\x10", 7);
  EXPECT_EQ(DecodeEvent(bytes).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, CorruptedBytesNeverCrash) {
  const std::string valid = EncodeEvent(FullEvent());
  std::mt19937 rng(20240501);
  std::uniform_int_distribution<size_t> pos(0, valid.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    int flips = 1 + i % 4;
    for (int f = 0; f < flips; ++f) bytes[pos(rng)] = static_cast<char>(byte(rng));
    if (i % 3 == 0) bytes.resize(pos(rng));
    absl::StatusOr<Event> got = DecodeEvent(bytes);
    if (got.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
    }
  }
  // Flipping bytes inside strings still decodes; the rest must fail cleanly.
  EXPECT_GT(ok, 0);
}

}  // namespace
}  // namespace facet::profiles
