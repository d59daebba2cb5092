#include "ingest/tracking_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/time_format.h"

namespace facet::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

constexpr TimeMs kNow = 1714566600000;  // 2024-05-01T12:30:00Z

TimeMs Time(std::string_view iso) { return *ParseIso8601(iso); }

ParseOptions Options() {
  ParseOptions o;
  o.identity.hmac_key = "test-key";
  return o;
}

RequestParse Parse(Endpoint endpoint, std::string_view body, const ParseOptions& options = Options()) {
  return ParseRequest(endpoint, body, kNow, options);
}

RequestParse Batch(std::string_view body) { return Parse(Endpoint::kBatch, body); }

// Parses a single-event body that must be accepted.
ParsedEvent One(Endpoint endpoint, std::string_view body, const ParseOptions& options = Options()) {
  RequestParse r = Parse(endpoint, body, options);
  EXPECT_FALSE(r.fatal) << r.fatal->error;
  EXPECT_THAT(r.rejected, IsEmpty()) << (r.rejected.empty() ? "" : r.rejected[0].error);
  EXPECT_THAT(r.events, SizeIs(1));
  return r.events.empty() ? ParsedEvent{} : r.events[0];
}

// Parses a single-event body that must be rejected; returns the error.
InputError Rejected(Endpoint endpoint, std::string_view body) {
  RequestParse r = Parse(endpoint, body);
  EXPECT_FALSE(r.fatal);
  EXPECT_THAT(r.events, IsEmpty());
  EXPECT_THAT(r.rejected, SizeIs(1));
  EXPECT_THAT(r.rejected_raw, SizeIs(1));
  return r.rejected.empty() ? InputError{} : r.rejected[0];
}

// Rejects the second item of a batch whose first item is valid.
InputError RejectedInBatch(std::string_view item) {
  const std::string body = R"({"batch":[{"type":"track","event":"ok","userId":"u"},)" + std::string(item) + "]}";
  RequestParse r = Batch(body);
  EXPECT_FALSE(r.fatal);
  EXPECT_THAT(r.events, SizeIs(1));
  EXPECT_THAT(r.rejected, SizeIs(1));
  return r.rejected.empty() ? InputError{} : r.rejected[0];
}

std::vector<std::pair<std::string, std::string>> Ids(const ParsedEvent& e) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& id : e.identifiers) out.emplace_back(id.ns, id.value);
  return out;
}

// --- EndpointFromPath ---

TEST(EndpointFromPathTest, MapsLongAndShortNames) {
  EXPECT_EQ(EndpointFromPath("/v1/batch"), Endpoint::kBatch);
  EXPECT_EQ(EndpointFromPath("/v1/b"), Endpoint::kBatch);
  EXPECT_EQ(EndpointFromPath("/v1/identify"), Endpoint::kIdentify);
  EXPECT_EQ(EndpointFromPath("/v1/i"), Endpoint::kIdentify);
  EXPECT_EQ(EndpointFromPath("/v1/track"), Endpoint::kTrack);
  EXPECT_EQ(EndpointFromPath("/v1/t"), Endpoint::kTrack);
  EXPECT_EQ(EndpointFromPath("/v1/page"), Endpoint::kPage);
  EXPECT_EQ(EndpointFromPath("/v1/p"), Endpoint::kPage);
  EXPECT_EQ(EndpointFromPath("/v1/screen"), Endpoint::kScreen);
  EXPECT_EQ(EndpointFromPath("/v1/s"), Endpoint::kScreen);
  EXPECT_EQ(EndpointFromPath("/v1/group"), Endpoint::kGroup);
  EXPECT_EQ(EndpointFromPath("/v1/g"), Endpoint::kGroup);
  EXPECT_EQ(EndpointFromPath("/v1/alias"), Endpoint::kAlias);
  EXPECT_EQ(EndpointFromPath("/v1/a"), Endpoint::kAlias);
}

TEST(EndpointFromPathTest, IgnoresTrailingSlashAndQuery) {
  EXPECT_EQ(EndpointFromPath("/v1/batch/"), Endpoint::kBatch);
  EXPECT_EQ(EndpointFromPath("/v1/t?writeKey=abc"), Endpoint::kTrack);
  EXPECT_EQ(EndpointFromPath("/v1/identify/?x=1"), Endpoint::kIdentify);
}

TEST(EndpointFromPathTest, UnknownPathsAreNullopt) {
  EXPECT_EQ(EndpointFromPath("/v1/"), std::nullopt);
  EXPECT_EQ(EndpointFromPath("/v1/import"), std::nullopt);
  EXPECT_EQ(EndpointFromPath("/v2/track"), std::nullopt);
  EXPECT_EQ(EndpointFromPath("/v1/track//"), std::nullopt);
  EXPECT_EQ(EndpointFromPath("v1/track"), std::nullopt);
  EXPECT_EQ(EndpointFromPath(""), std::nullopt);
}

// --- Request-level failures ---

TEST(SegmentParserTest, MalformedJsonIsFatal) {
  RequestParse r = Batch(R"({"batch":[{"type":"track",)");
  ASSERT_TRUE(r.fatal);
  EXPECT_THAT(r.fatal->error, HasSubstr("malformed JSON: "));
  EXPECT_EQ(r.fatal->field, "body");
  EXPECT_EQ(r.fatal->index, -1);
  EXPECT_FALSE(r.too_large);
  EXPECT_THAT(r.events, IsEmpty());
}

TEST(SegmentParserTest, EmptyBodyAndInvalidUtf8AreMalformed) {
  EXPECT_THAT(Batch("").fatal->error, HasSubstr("malformed JSON"));
  EXPECT_THAT(Parse(Endpoint::kTrack, "{\"event\":\"\xff\xfe\"}").fatal->error, HasSubstr("malformed JSON"));
}

TEST(SegmentParserTest, OversizedBodyIsFatalTooLarge) {
  ParseOptions o = Options();
  o.max_batch_bytes = 100;
  std::string body = R"({"batch":[)";
  for (int i = 0; i < 10; ++i) {
    body += std::string(i ? "," : "") + R"({"type":"track","event":"e","userId":"u"})";
  }
  body += "]}";
  RequestParse r = Parse(Endpoint::kBatch, body, o);
  ASSERT_TRUE(r.fatal);
  EXPECT_TRUE(r.too_large);
  EXPECT_EQ(r.fatal->error, "request body exceeds 100 bytes");
  EXPECT_THAT(r.events, IsEmpty());
}

TEST(SegmentParserTest, TopLevelNotObjectIsFatal) {
  RequestParse r = Parse(Endpoint::kTrack, R"([{"event":"e","userId":"u"}])");
  ASSERT_TRUE(r.fatal);
  EXPECT_EQ(r.fatal->index, -1);
  EXPECT_TRUE(Batch("42").fatal);
  EXPECT_TRUE(Batch(R"("text")").fatal);
}

TEST(SegmentParserTest, BatchMustBeAnArray) {
  RequestParse r = Batch(R"({"batch":{"type":"track"}})");
  ASSERT_TRUE(r.fatal);
  EXPECT_EQ(r.fatal->field, "batch");
  r = Batch(R"({"type":"track","event":"e","userId":"u"})");
  ASSERT_TRUE(r.fatal);
  EXPECT_EQ(r.fatal->field, "batch");
}

TEST(SegmentParserTest, InvalidBatchSentAtOrContextIsFatal) {
  RequestParse r = Batch(R"({"batch":[],"sentAt":"yesterday"})");
  ASSERT_TRUE(r.fatal);
  EXPECT_EQ(r.fatal->field, "sentAt");
  r = Batch(R"({"batch":[],"context":[1]})");
  ASSERT_TRUE(r.fatal);
  EXPECT_EQ(r.fatal->field, "context");
}

TEST(SegmentParserTest, EmptyBatchIsAccepted) {
  RequestParse r = Batch(R"({"batch":[]})");
  EXPECT_FALSE(r.fatal);
  EXPECT_THAT(r.events, IsEmpty());
  EXPECT_THAT(r.rejected, IsEmpty());
}

TEST(SegmentParserTest, WriteKeyFromBody) {
  EXPECT_EQ(Batch(R"({"writeKey":"wk_1","batch":[]})").write_key, "wk_1");
  RequestParse r = Parse(Endpoint::kTrack, R"({"writeKey":"wk_2","event":"Signed Up","userId":"u"})");
  EXPECT_EQ(r.write_key, "wk_2");
  EXPECT_THAT(r.events, SizeIs(1));
  EXPECT_EQ(Batch(R"([])").write_key, "");
}

// --- Per-event validation, one rule each ---

TEST(SegmentParserTest, BatchItemNotAnObjectIsRejected) {
  RequestParse r = Batch(R"({"batch":[{"type":"track","event":"e","userId":"u"},"oops",[1]]})");
  ASSERT_FALSE(r.fatal);
  EXPECT_THAT(r.events, SizeIs(1));
  ASSERT_THAT(r.rejected, SizeIs(2));
  EXPECT_EQ(r.rejected[0].field, "batch[1]");
  EXPECT_EQ(r.rejected[0].index, 1);
  EXPECT_EQ(r.rejected[1].field, "batch[2]");
  EXPECT_EQ(r.rejected_raw[0], R"("oops")");
  EXPECT_EQ(r.rejected_raw[1], "[1]");
}

TEST(SegmentParserTest, MissingTypeInBatchIsRejected) {
  InputError e = RejectedInBatch(R"({"event":"e","userId":"u"})");
  EXPECT_EQ(e.field, "batch[1].type");
  EXPECT_EQ(e.index, 1);
  EXPECT_EQ(e.error, "type is required");
}

TEST(SegmentParserTest, UnknownTypeIsRejected) {
  InputError e = RejectedInBatch(R"({"type":"purchase","event":"e","userId":"u"})");
  EXPECT_EQ(e.field, "batch[1].type");
  EXPECT_THAT(e.error, HasSubstr("purchase"));
}

TEST(SegmentParserTest, TypeMismatchingEndpointIsRejected) {
  InputError e = Rejected(Endpoint::kIdentify, R"({"type":"track","event":"e","userId":"u"})");
  EXPECT_EQ(e.field, "type");
  EXPECT_EQ(e.index, 0);
  One(Endpoint::kIdentify, R"({"type":"identify","userId":"u"})");
}

TEST(SegmentParserTest, MissingUserIdAndAnonymousIdIsRejected) {
  InputError e = RejectedInBatch(R"({"type":"track","event":"e","userId":"","anonymousId":null})");
  EXPECT_EQ(e.field, "batch[1].userId");
  EXPECT_EQ(e.index, 1);
  EXPECT_EQ(e.error, "userId or anonymousId is required");
  e = Rejected(Endpoint::kTrack, R"({"event":"e"})");
  EXPECT_EQ(e.field, "userId");
  EXPECT_EQ(e.index, 0);
}

TEST(SegmentParserTest, UserIdOfWrongTypeIsRejected) {
  InputError e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":{"id":1}})");
  EXPECT_EQ(e.field, "userId");
  e = Rejected(Endpoint::kTrack, R"({"event":"e","anonymousId":true})");
  EXPECT_EQ(e.field, "anonymousId");
}

TEST(SegmentParserTest, BlankUserIdWithoutAnonymousIdIsRejected) {
  InputError e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":"   "})");
  EXPECT_EQ(e.field, "userId");
  EXPECT_THAT(e.error, HasSubstr("empty"));
}

TEST(SegmentParserTest, InvalidUserIdWithAnonymousIdIsAWarning) {
  const std::string long_id(600, 'x');
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":")" + long_id + R"(","anonymousId":"a"})");
  EXPECT_THAT(Ids(e), ElementsAre(Pair("anonymous_id", "a")));
  EXPECT_EQ(e.event.user_id, "");
  ASSERT_THAT(e.warnings, SizeIs(1));
  EXPECT_THAT(e.warnings[0], HasSubstr("userId"));
}

TEST(SegmentParserTest, TrackWithoutEventIsRejected) {
  InputError e = RejectedInBatch(R"({"type":"track","userId":"u"})");
  EXPECT_EQ(e.field, "batch[1].event");
  EXPECT_EQ(e.index, 1);
  EXPECT_EQ(e.error, "track needs a non-empty \"event\"");
  e = Rejected(Endpoint::kTrack, R"({"userId":"u","event":""})");
  EXPECT_EQ(e.field, "event");
  EXPECT_EQ(e.index, 0);
  e = Rejected(Endpoint::kTrack, R"({"userId":"u","event":7})");
  EXPECT_EQ(e.field, "event");
}

TEST(SegmentParserTest, PageNameMustBeAString) {
  InputError e = Rejected(Endpoint::kPage, R"({"userId":"u","name":["Home"]})");
  EXPECT_EQ(e.field, "name");
}

TEST(SegmentParserTest, AliasWithoutPreviousIdIsRejected) {
  InputError e = RejectedInBatch(R"({"type":"alias","userId":"u"})");
  EXPECT_EQ(e.field, "batch[1].previousId");
  EXPECT_EQ(e.index, 1);
}

TEST(SegmentParserTest, AliasWithoutUserIdIsRejected) {
  InputError e = Rejected(Endpoint::kAlias, R"({"previousId":"anon-1","anonymousId":"anon-1"})");
  EXPECT_EQ(e.field, "userId");
  EXPECT_EQ(e.index, 0);
}

TEST(SegmentParserTest, GroupWithoutGroupIdIsRejected) {
  InputError e = RejectedInBatch(R"({"type":"group","userId":"u","traits":{}})");
  EXPECT_EQ(e.field, "batch[1].groupId");
  EXPECT_EQ(e.index, 1);
}

TEST(SegmentParserTest, PropertiesMustBeAnObject) {
  InputError e = RejectedInBatch(R"({"type":"track","event":"e","userId":"u","properties":[1]})");
  EXPECT_EQ(e.field, "batch[1].properties");
  EXPECT_EQ(e.error, "properties must be an object");
}

TEST(SegmentParserTest, TraitsMustBeAnObject) {
  InputError e = Rejected(Endpoint::kIdentify, R"({"userId":"u","traits":"vip"})");
  EXPECT_EQ(e.field, "traits");
  EXPECT_EQ(e.index, 0);
}

TEST(SegmentParserTest, ContextMustBeAnObject) {
  InputError e = RejectedInBatch(R"({"type":"track","event":"e","userId":"u","context":1})");
  EXPECT_EQ(e.field, "batch[1].context");
}

TEST(SegmentParserTest, MessageIdMustBeANonEmptyShortString) {
  InputError e = RejectedInBatch(R"({"type":"track","event":"e","userId":"u","messageId":""})");
  EXPECT_EQ(e.field, "batch[1].messageId");
  e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":"u","messageId":12})");
  EXPECT_EQ(e.field, "messageId");
  const std::string long_id(257, 'm');
  e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":"u","messageId":")" + long_id + "\"}");
  EXPECT_EQ(e.field, "messageId");
  const std::string max_id(256, 'm');
  EXPECT_EQ(One(Endpoint::kTrack, R"({"event":"e","userId":"u","messageId":")" + max_id + "\"}").event.message_id,
            max_id);
}

TEST(SegmentParserTest, MissingMessageIdIsGeneratedUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u"})");
    EXPECT_THAT(e.event.message_id, SizeIs(36));
    ids.insert(e.event.message_id);
  }
  EXPECT_THAT(ids, SizeIs(100));
}

TEST(SegmentParserTest, TimestampMustParse) {
  InputError e = RejectedInBatch(R"({"type":"track","event":"e","userId":"u","timestamp":"soon"})");
  EXPECT_EQ(e.field, "batch[1].timestamp");
  e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":"u","originalTimestamp":1714566600})");
  EXPECT_EQ(e.field, "originalTimestamp");
  e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":"u","sentAt":"2024-13-45"})");
  EXPECT_EQ(e.field, "sentAt");
}

TEST(SegmentParserTest, OversizedEventIsRejected) {
  ParseOptions o = Options();
  o.max_event_bytes = 200;
  const std::string big(300, 'x');
  const std::string body = R"({"batch":[{"type":"track","event":"e","userId":"u"},)"
                           R"({"type":"track","event":"e","userId":"u","properties":{"p":")" +
                           big + R"("}}]})";
  RequestParse r = Parse(Endpoint::kBatch, body, o);
  ASSERT_FALSE(r.fatal);
  EXPECT_THAT(r.events, SizeIs(1));
  ASSERT_THAT(r.rejected, SizeIs(1));
  EXPECT_EQ(r.rejected[0].error, "event exceeds 200 bytes");
  EXPECT_EQ(r.rejected[0].field, "batch[1]");
  EXPECT_EQ(r.rejected[0].index, 1);
}

TEST(SegmentParserTest, DefaultEventLimitIsReported) {
  const std::string big(40000, 'x');
  InputError e = Rejected(Endpoint::kTrack, R"({"event":"e","userId":"u","properties":{"p":")" + big + "\"}}");
  EXPECT_EQ(e.error, "event exceeds 32768 bytes");
  EXPECT_EQ(e.index, 0);
}

TEST(SegmentParserTest, RejectedRawIsCompactAndTruncated) {
  RequestParse r = Batch(R"({"batch":[ { "type" : "track", "userId" : "u" } ]})");
  ASSERT_THAT(r.rejected_raw, SizeIs(1));
  EXPECT_EQ(r.rejected_raw[0], R"({"type":"track","userId":"u"})");

  // A long Chinese string: truncation must not split a UTF-8 sequence.
  std::string name;
  for (int i = 0; i < 3000; ++i) name += "中";
  r = Batch(R"({"batch":[{"type":"track","userId":"u","properties":{"n":")" + name + "\"}}]}");
  ASSERT_THAT(r.rejected_raw, SizeIs(1));
  const std::string& raw = r.rejected_raw[0];
  EXPECT_LE(raw.size(), 4096u);
  EXPECT_GT(raw.size(), 4090u);
  EXPECT_EQ(raw.substr(raw.size() - 3), "中");
}

TEST(SegmentParserTest, BatchWithMixedValidAndInvalidItems) {
  RequestParse r = Batch(R"({"batch":[
    {"type":"identify","userId":"u1","traits":{"plan":"pro"}},
    {"type":"track","userId":"u1"},
    {"type":"page","anonymousId":"a1","name":"Home"},
    {"type":"group","userId":"u1"},
    {"type":"screen","userId":"u1","name":"Main"}
  ]})");
  ASSERT_FALSE(r.fatal);
  ASSERT_THAT(r.events, SizeIs(3));
  EXPECT_EQ(r.events[0].event.type, profiles::EventType::kIdentify);
  EXPECT_EQ(r.events[1].event.type, profiles::EventType::kPage);
  EXPECT_EQ(r.events[2].event.type, profiles::EventType::kScreen);
  ASSERT_THAT(r.rejected, SizeIs(2));
  EXPECT_EQ(r.rejected[0].field, "batch[1].event");
  EXPECT_EQ(r.rejected[0].index, 1);
  EXPECT_EQ(r.rejected[1].field, "batch[3].groupId");
  EXPECT_EQ(r.rejected[1].index, 3);
  EXPECT_THAT(r.rejected_raw, SizeIs(2));
}

// --- Filling the event ---

TEST(SegmentParserTest, TopLevelArrayIsABatch) {
  RequestParse r = Batch(R"([{"type":"track","event":"A","userId":"u"},{"type":"x"}])");
  ASSERT_FALSE(r.fatal);
  ASSERT_THAT(r.events, SizeIs(1));
  EXPECT_EQ(r.events[0].event.name, "A");
  ASSERT_THAT(r.rejected, SizeIs(1));
  EXPECT_EQ(r.rejected[0].field, "batch[1].type");
}

TEST(SegmentParserTest, TrackFieldsAreFilled) {
  ParsedEvent e = One(Endpoint::kTrack, R"({
    "messageId":"m-1","event":"Order Completed","userId":"u1","anonymousId":"a1",
    "properties":{ "revenue": 12.5, "currency":"CNY", "items":[1, 2] },
    "context":{"ip":"1.2.3.4"},"timestamp":"2024-05-01T10:00:00Z"})");
  EXPECT_EQ(e.event.type, profiles::EventType::kTrack);
  EXPECT_EQ(e.event.message_id, "m-1");
  EXPECT_EQ(e.event.name, "Order Completed");
  EXPECT_EQ(e.event.user_id, "u1");
  EXPECT_EQ(e.event.anonymous_id, "a1");
  EXPECT_EQ(e.event.properties, R"({"revenue":12.5,"currency":"CNY","items":[1,2]})");
  EXPECT_EQ(e.event.context, R"({"ip":"1.2.3.4"})");
  EXPECT_EQ(e.event.timestamp, Time("2024-05-01T10:00:00Z"));
  EXPECT_EQ(e.event.received_at, kNow);
  EXPECT_EQ(e.event.revenue, 12.5);
  EXPECT_EQ(e.event.currency, "CNY");
  EXPECT_THAT(e.warnings, IsEmpty());
}

TEST(SegmentParserTest, AbsentObjectsAreEmpty) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u","properties":null})");
  EXPECT_EQ(e.event.properties, "{}");
  EXPECT_EQ(e.event.context, "{}");
  EXPECT_THAT(e.event.traits, IsEmpty());
  EXPECT_FALSE(e.event.revenue);
  EXPECT_FALSE(e.event.location);
}

TEST(SegmentParserTest, NumericIdsBecomeDecimalText) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":12345,"anonymousId":7.0})");
  EXPECT_EQ(e.event.user_id, "12345");
  EXPECT_EQ(e.event.anonymous_id, "7");
  EXPECT_THAT(Ids(e), ElementsAre(Pair("user_id", "12345"), Pair("anonymous_id", "7")));
  e = One(Endpoint::kTrack, R"({"event":"e","userId":18446744073709551615})");
  EXPECT_EQ(e.event.user_id, "18446744073709551615");
  e = One(Endpoint::kTrack, R"({"event":"e","userId":-3,"anonymousId":1.5})");
  EXPECT_EQ(e.event.user_id, "-3");
  EXPECT_EQ(e.event.anonymous_id, "1.5");
  e = One(Endpoint::kGroup, R"({"userId":"u","groupId":42})");
  EXPECT_EQ(e.event.group_id, "42");
}

TEST(SegmentParserTest, ExplicitTimestampWins) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u",
    "timestamp":"2024-05-01T08:00:00Z","originalTimestamp":"2024-05-01T09:00:00Z",
    "sentAt":"2024-05-01T09:00:05Z"})");
  EXPECT_EQ(e.event.timestamp, Time("2024-05-01T08:00:00Z"));
}

TEST(SegmentParserTest, ClockSkewIsCorrectedWithSentAt) {
  // The device clock is 1 hour behind: it sent at 11:30:10 device time, which
  // the server received at 12:30:00; the event happened 10 s before sending.
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u",
    "originalTimestamp":"2024-05-01T11:30:00Z","sentAt":"2024-05-01T11:30:10Z"})");
  EXPECT_EQ(e.event.timestamp, kNow - 10000);
  EXPECT_EQ(e.event.received_at, kNow);
}

TEST(SegmentParserTest, OriginalTimestampWithoutSentAtIsUsedAsIs) {
  ParsedEvent e =
      One(Endpoint::kTrack, R"({"event":"e","userId":"u","originalTimestamp":"2024-05-01T11:00:00+08:00"})");
  EXPECT_EQ(e.event.timestamp, Time("2024-05-01T03:00:00Z"));
}

TEST(SegmentParserTest, NoTimestampMeansReceivedAt) {
  EXPECT_EQ(One(Endpoint::kTrack, R"({"event":"e","userId":"u"})").event.timestamp, kNow);
}

TEST(SegmentParserTest, BatchSentAtAppliesWhenMessageHasNone) {
  RequestParse r = Batch(R"({"sentAt":"2024-05-01T12:00:05Z","batch":[
    {"type":"track","event":"a","userId":"u","originalTimestamp":"2024-05-01T12:00:00Z"},
    {"type":"track","event":"b","userId":"u","originalTimestamp":"2024-05-01T12:00:00Z",
     "sentAt":"2024-05-01T12:00:01Z"}]})");
  ASSERT_THAT(r.events, SizeIs(2));
  EXPECT_EQ(r.events[0].event.timestamp, kNow - 5000);
  EXPECT_EQ(r.events[1].event.timestamp, kNow - 1000);
}

TEST(SegmentParserTest, BatchContextIsMergedUnderEventContext) {
  RequestParse r = Batch(R"({"context":{"library":{"name":"analytics-node"},"ip":"9.9.9.9",
      "device":{"id":"dev-batch"}},
    "batch":[
      {"type":"track","event":"a","userId":"u","context":{"ip":"1.1.1.1","locale":"zh-CN"}},
      {"type":"track","event":"b","userId":"u"},
      {"type":"track","event":"c","userId":"u","context":{}}]})");
  ASSERT_THAT(r.events, SizeIs(3));
  EXPECT_EQ(r.events[0].event.context, R"({"ip":"1.1.1.1","locale":"zh-CN","library":{"name":"analytics-node"},)"
                                       R"("device":{"id":"dev-batch"}})");
  EXPECT_EQ(r.events[1].event.context,
            R"({"library":{"name":"analytics-node"},"ip":"9.9.9.9","device":{"id":"dev-batch"}})");
  EXPECT_EQ(r.events[2].event.context, r.events[1].event.context);
  EXPECT_THAT(Ids(r.events[0]), ElementsAre(Pair("user_id", "u"), Pair("device_id", "dev-batch")));
}

TEST(SegmentParserTest, IdentifyTraitsWinOverContextTraits) {
  ParsedEvent e = One(Endpoint::kIdentify, R"({"userId":"u",
    "traits":{"name":"李雷","plan":"pro","age":30},
    "context":{"traits":{"plan":"free","city":"北京","email":"old@example.com"}}})");
  EXPECT_THAT(e.event.traits, ElementsAre(Pair("name", "\"李雷\""), Pair("plan", "\"pro\""), Pair("age", "30"),
                                          Pair("city", "\"北京\""), Pair("email", "\"old@example.com\"")));
}

TEST(SegmentParserTest, RepeatedTraitKeyKeepsLastValue) {
  ParsedEvent e = One(Endpoint::kIdentify, R"({"userId":"u","traits":{"plan":"free","x":1,"plan":"pro"}})");
  EXPECT_THAT(e.event.traits, ElementsAre(Pair("plan", "\"pro\""), Pair("x", "1")));
}

TEST(SegmentParserTest, TrackTakesContextTraits) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u","context":{"traits":{"vip":true,"tags":["a"]}}})");
  EXPECT_THAT(e.event.traits, ElementsAre(Pair("vip", "true"), Pair("tags", R"(["a"])")));
}

TEST(SegmentParserTest, ManyTraitsAreDeduplicated) {
  std::string own, ctx;
  for (int i = 0; i < 40; ++i) {
    own += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":" + std::to_string(i);
    ctx += (i ? "," : "") + std::string("\"k") + std::to_string(i + 20) + "\":-1";
  }
  ParsedEvent e =
      One(Endpoint::kIdentify, R"({"userId":"u","traits":{)" + own + R"(},"context":{"traits":{)" + ctx + "}}}");
  ASSERT_THAT(e.event.traits, SizeIs(60));
  EXPECT_THAT(e.event.traits[39], Pair("k39", "39"));
  EXPECT_THAT(e.event.traits[40], Pair("k40", "-1"));
}

TEST(SegmentParserTest, GroupTraitsBecomeProperties) {
  ParsedEvent e = One(Endpoint::kGroup, R"({"userId":"u","groupId":"g1","traits":{"name":"Acme","employees":50}})");
  EXPECT_EQ(e.event.group_id, "g1");
  EXPECT_EQ(e.event.properties, R"({"name":"Acme","employees":50})");
  EXPECT_THAT(e.event.traits, IsEmpty());
}

TEST(SegmentParserTest, PageNameFromTopLevelOrProperties) {
  EXPECT_EQ(One(Endpoint::kPage, R"({"userId":"u","name":"Home","properties":{"name":"P"}})").event.name, "Home");
  EXPECT_EQ(One(Endpoint::kPage, R"({"userId":"u","properties":{"name":"Pricing"}})").event.name, "Pricing");
  EXPECT_EQ(One(Endpoint::kPage, R"({"userId":"u"})").event.name, "");
  EXPECT_EQ(One(Endpoint::kScreen, R"({"userId":"u","name":"Main"})").event.name, "Main");
}

TEST(SegmentParserTest, IdentifiersInOrderAndNormalised) {
  ParsedEvent e = One(Endpoint::kIdentify, R"({"userId":" u-1 ","anonymousId":"anon-1",
    "traits":{"email":" Li.Lei@Example.COM","phone":"138 0013 8000"},
    "context":{"device":{"id":"dev-1"}}})");
  EXPECT_THAT(Ids(e),
              ElementsAre(Pair("user_id", "u-1"), Pair("anonymous_id", "anon-1"), Pair("email", "li.lei@example.com"),
                          Pair("phone", "+8613800138000"), Pair("device_id", "dev-1")));
  EXPECT_EQ(e.event.user_id, "u-1");
  EXPECT_THAT(e.warnings, IsEmpty());
}

TEST(SegmentParserTest, EmailAndPhoneFromContextTraits) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","anonymousId":"a",
    "context":{"traits":{"email":"HAN@Example.com","phone":13800138000}}})");
  EXPECT_THAT(Ids(e), ElementsAre(Pair("anonymous_id", "a"), Pair("email", "han@example.com"),
                                  Pair("phone", "+8613800138000")));
}

TEST(SegmentParserTest, InvalidIdentifierIsDroppedWithWarning) {
  ParsedEvent e = One(Endpoint::kIdentify, R"({"userId":"u","traits":{"email":"not-an-email","phone":""}})");
  EXPECT_THAT(Ids(e), ElementsAre(Pair("user_id", "u")));
  ASSERT_THAT(e.warnings, SizeIs(1));
  EXPECT_THAT(e.warnings[0], HasSubstr("traits.email"));
}

TEST(SegmentParserTest, DuplicateIdentifiersAreListedOnce) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"same","anonymousId":"same",
    "context":{"device":{"id":"d"}}})");
  EXPECT_THAT(Ids(e), ElementsAre(Pair("user_id", "same"), Pair("anonymous_id", "same"), Pair("device_id", "d")));
  ParseOptions o = Options();
  o.identifier_sources = {{"device_id", "context.device.id"}};
  e = One(Endpoint::kTrack, R"({"event":"e","userId":"u","context":{"device":{"id":"d"}}})", o);
  EXPECT_THAT(Ids(e), ElementsAre(Pair("user_id", "u"), Pair("device_id", "d")));
}

TEST(SegmentParserTest, AliasPreviousIdIsAnAnonymousId) {
  ParsedEvent e = One(Endpoint::kAlias, R"({"userId":"u-1","previousId":"anon-9"})");
  EXPECT_EQ(e.event.type, profiles::EventType::kAlias);
  EXPECT_EQ(e.event.previous_id, "anon-9");
  EXPECT_THAT(Ids(e), ElementsAre(Pair("user_id", "u-1"), Pair("anonymous_id", "anon-9")));
  e = One(Endpoint::kAlias, R"({"userId":"u-1","previousId":"anon-9","anonymousId":"anon-2"})");
  EXPECT_THAT(Ids(e),
              ElementsAre(Pair("user_id", "u-1"), Pair("anonymous_id", "anon-9"), Pair("anonymous_id", "anon-2")));
}

TEST(SegmentParserTest, CustomIdentifierSources) {
  ParseOptions o = Options();
  o.identifier_sources = {{"wechat_openid", "traits.wechat_openid"},
                          {"device_id", "context.device.id"},
                          {"idfa", "context.device.advertisingId"},
                          {"order_id", "properties.order.id"},
                          {"wechat_unionid", "traits.wechat_unionid"}};
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","anonymousId":"a",
    "properties":{"order":{"id":987}},
    "context":{"device":{"id":"dev-1","advertisingId":"IDFA-1"},
               "traits":{"wechat_openid":"oABC123","wechat_unionid":{"bad":1}}}})",
                      o);
  EXPECT_THAT(Ids(e), ElementsAre(Pair("anonymous_id", "a"), Pair("device_id", "dev-1"),
                                  Pair("wechat_openid", "oABC123"), Pair("idfa", "IDFA-1"), Pair("order_id", "987")));
  ASSERT_THAT(e.warnings, SizeIs(1));
  EXPECT_THAT(e.warnings[0], HasSubstr("traits.wechat_unionid"));

  // identify's own traits are looked at before context.traits.
  e = One(Endpoint::kIdentify, R"({"userId":"u","traits":{"wechat_openid":"own"},
    "context":{"traits":{"wechat_openid":"ctx"}}})",
          o);
  EXPECT_THAT(Ids(e), ElementsAre(Pair("user_id", "u"), Pair("wechat_openid", "own")));
}

TEST(SegmentParserTest, RevenueCurrencyAndLocation) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"Order Completed","userId":"u",
    "properties":{"revenue":"199.90","currency":"CNY"},
    "context":{"location":{"latitude":31.23,"longitude":121.47,"city":"上海","country":"中国"}}})");
  EXPECT_EQ(e.event.revenue, 199.9);
  EXPECT_EQ(e.event.currency, "CNY");
  ASSERT_TRUE(e.event.location);
  EXPECT_DOUBLE_EQ(e.event.location->latitude, 31.23);
  EXPECT_DOUBLE_EQ(e.event.location->longitude, 121.47);
  EXPECT_EQ(e.event.location->city, "上海");
  EXPECT_EQ(e.event.location->country, "中国");
}

TEST(SegmentParserTest, RevenueFallsBackToTotal) {
  EXPECT_EQ(One(Endpoint::kTrack, R"({"event":"e","userId":"u","properties":{"total":30}})").event.revenue, 30.0);
  EXPECT_EQ(
      One(Endpoint::kTrack, R"({"event":"e","userId":"u","properties":{"revenue":"n/a","total":"12"}})").event.revenue,
      12.0);
  EXPECT_FALSE(One(Endpoint::kTrack, R"({"event":"e","userId":"u","properties":{"revenue":true}})").event.revenue);
}

TEST(SegmentParserTest, LocationNeedsCoordinatesOrCity) {
  EXPECT_FALSE(
      One(Endpoint::kTrack, R"({"event":"e","userId":"u","context":{"location":{"latitude":1,"country":"CN"}}})")
          .event.location);
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u","context":{"location":{"city":"深圳"}}})");
  ASSERT_TRUE(e.event.location);
  EXPECT_EQ(e.event.location->city, "深圳");
  EXPECT_FALSE(e.event.location->has_coordinates());
  e = One(Endpoint::kTrack,
          R"({"event":"e","userId":"u","context":{"location":{"latitude":91,"longitude":114,"city":"X"}}})");
  ASSERT_TRUE(e.event.location);
  EXPECT_FALSE(e.event.location->has_coordinates());  // out of range
  e = One(Endpoint::kTrack, R"({"event":"e","userId":"u","context":{"location":{"latitude":22,"longitude":114}}})");
  ASSERT_TRUE(e.event.location);
  EXPECT_EQ(e.event.location->latitude, 22);
  EXPECT_TRUE(e.event.location->has_coordinates());
  EXPECT_EQ(e.event.location->city, "");
}

TEST(SegmentParserTest, UnicodeRoundTrips) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"event":"下单","userId":"用户1",
    "properties":{"商品":"茶叶 \u8336","quote":"a\"b\\c\n","emoji":"\ud83d\ude00"}})");
  EXPECT_EQ(e.event.name, "下单");
  EXPECT_EQ(e.event.user_id, "用户1");
  EXPECT_EQ(e.event.properties, "{\"商品\":\"茶叶 茶\",\"quote\":\"a\\\"b\\\\c\\n\",\"emoji\":\"😀\"}");
}

TEST(SegmentParserTest, EscapesAreKeptAtEveryOffset) {
  for (size_t pad = 0; pad < 20; ++pad) {
    const std::string a(pad, 'a');
    const std::string input = a + R"(\"q\u0001\t\\\/é)" + a;
    const std::string expected = a + R"(\"q\u0001\t\\/é)" + a;
    ParsedEvent e = One(Endpoint::kTrack, R"({"event":"e","userId":"u","properties":{"s":")" + input + "\"}}");
    EXPECT_EQ(e.event.properties, R"({"s":")" + expected + "\"}") << pad;
  }
}

TEST(SegmentParserTest, AnalyticsNodeBatch) {
  // The shape @segment/analytics-node sends.
  RequestParse r = Batch(R"({"batch":[{"type":"identify","userId":"u1","traits":{"email":"A@B.co"},
      "messageId":"node-next-1","_metadata":{"nodeVersion":"20"},
      "context":{"library":{"name":"@segment/analytics-node","version":"2.0.0"}},
      "timestamp":"2024-05-01T12:00:00.000Z","integrations":{}}],
    "writeKey":"abc","sentAt":"2024-05-01T12:00:01.000Z"})");
  ASSERT_FALSE(r.fatal);
  ASSERT_THAT(r.events, SizeIs(1));
  EXPECT_EQ(r.write_key, "abc");
  EXPECT_EQ(r.events[0].event.message_id, "node-next-1");
  EXPECT_EQ(r.events[0].event.timestamp, Time("2024-05-01T12:00:00Z"));
  EXPECT_THAT(Ids(r.events[0]), ElementsAre(Pair("user_id", "u1"), Pair("email", "a@b.co")));
}

TEST(SegmentParserTest, DeepNestingDoesNotCrash) {
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  RequestParse r = Batch(R"({"batch":[{"type":"track","event":"e","userId":"u","properties":{"x":)" + deep + "}}]}");
  EXPECT_TRUE(r.fatal);
}

TEST(SegmentParserTest, FutureTimesAreClampedAndAncientOnesRefused) {
  ParsedEvent e = One(Endpoint::kTrack, R"({"userId":"u","event":"E","timestamp":"9999-01-01T00:00:00Z"})");
  EXPECT_EQ(e.event.timestamp, kNow + 24LL * 3600 * 1000);
  ASSERT_THAT(e.warnings, SizeIs(1));
  EXPECT_THAT(e.warnings[0], HasSubstr("ahead of the server's clock"));

  RequestParse r = Parse(Endpoint::kTrack, R"({"userId":"u","event":"E","timestamp":"1999-12-31T23:59:59Z"})");
  ASSERT_THAT(r.rejected, SizeIs(1));
  EXPECT_EQ(r.rejected[0].field, "timestamp");
  EXPECT_THAT(r.rejected[0].error, HasSubstr("before 2000-01-01"));
  // Skew correction cannot carry a time out of bounds either.
  r = Parse(Endpoint::kTrack,
            R"({"userId":"u","event":"E","originalTimestamp":"0001-01-01T00:00:00Z","sentAt":"9999-01-01T00:00:00Z"})");
  ASSERT_THAT(r.rejected, SizeIs(1));
  EXPECT_EQ(r.rejected[0].field, "originalTimestamp");
}

TEST(SegmentParserTest, RevenueOutOfRangeIsRefused) {
  RequestParse r = Parse(Endpoint::kTrack, R"({"userId":"u","event":"E","properties":{"revenue":1e308}})");
  ASSERT_THAT(r.rejected, SizeIs(1));
  EXPECT_EQ(r.rejected[0].field, "properties.revenue");
  EXPECT_THAT(r.events, IsEmpty());
  EXPECT_EQ(One(Endpoint::kTrack, R"({"userId":"u","event":"E","properties":{"revenue":"-1e12"}})").event.revenue,
            -1e12);
}

}  // namespace
}  // namespace facet::ingest
