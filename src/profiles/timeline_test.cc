#include "profiles/timeline.h"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "profiles/internal/testing.h"
#include "store/key_codec.h"
#include "store/mem_kv_store.h"

namespace facet::profiles {
namespace {

using internal::ExpectSameEvent;

Event MakeEvent(EventSeq seq, PersonId person, TimeMs timestamp) {
  Event e;
  e.seq = seq;
  e.person = person;
  e.timestamp = timestamp;
  e.received_at = 1700000000000 + static_cast<TimeMs>(seq);
  e.type = EventType::kTrack;
  e.name = "Event " + std::to_string(seq);
  e.message_id = "msg-" + std::to_string(seq);
  return e;
}

constexpr std::string_view kScope = "scope-01";

void Store(store::MemKvStore& kv, const std::vector<Event>& events) {
  store::WriteBatch batch;
  for (const Event& e : events) AppendEvent(e, MessageIdKey(kScope, e.message_id), 42, &batch);
  ASSERT_TRUE(kv.Write(batch, true).ok());
}

std::vector<EventSeq> Seqs(const std::vector<Event>& events) {
  std::vector<EventSeq> seqs;
  for (const Event& e : events) seqs.push_back(e.seq);
  return seqs;
}

TEST(TimelineTest, ReadEventAndLookupMessageId) {
  store::MemKvStore kv;
  Event e = MakeEvent(7, 3, 1714566600000);
  e.traits = {{"name", "\"\xE6\x9D\x8E\""}};
  e.location = Location{1, 2, "Paris", "FR"};
  Store(kv, {e});

  absl::StatusOr<Event> read = ReadEvent(kv, 7);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameEvent(*read, e);
  EXPECT_EQ(ReadEvent(kv, 8).status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<MessageIdEntry> entry = LookupMessageKey(kv, MessageIdKey(kScope, "msg-7"));
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->seq, 7u);
  EXPECT_EQ(entry->received_at, e.received_at);
  EXPECT_EQ(entry->fingerprint, 42u);
  EXPECT_EQ(LookupMessageKey(kv, MessageIdKey(kScope, "msg-8")).status().code(), absl::StatusCode::kNotFound);
  // Another sender's scope does not see it.
  EXPECT_EQ(LookupMessageKey(kv, MessageIdKey("scope-02", "msg-7")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(*HasUnscopedMessageIds(kv));
}

TEST(TimelineTest, EntriesFromBeforeScopingAreRead) {
  store::MemKvStore kv;
  store::WriteBatch batch;
  std::string old = store::Fixed64Key(5);
  store::PutInt64Ordered(&old, 1000);
  batch.Put(store::Column::kMessageIds, "legacy-id", old);
  ASSERT_TRUE(kv.Write(batch, true).ok());
  EXPECT_TRUE(*HasUnscopedMessageIds(kv));
  absl::StatusOr<MessageIdEntry> entry = LookupMessageKey(kv, "legacy-id");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->seq, 5u);
  EXPECT_FALSE(entry->fingerprint.has_value());
}

TEST(TimelineTest, KeysFollowTheDocumentedLayout) {
  Event e = MakeEvent(9, 0x01020304, -5);
  store::WriteBatch batch;
  AppendEvent(e, MessageIdKey("12345678", e.message_id), 0x0a0b, &batch);
  ASSERT_EQ(batch.size(), 3u);
  std::string timeline_key = store::Fixed32Key(0x01020304);
  store::PutInt64Ordered(&timeline_key, -5);
  store::PutFixed64BE(&timeline_key, 9);
  std::string message_value = store::Fixed64Key(9);
  store::PutInt64Ordered(&message_value, e.received_at);
  store::PutFixed64BE(&message_value, 0x0a0b);
  for (const auto& op : batch.ops()) {
    switch (op.column) {
      case store::Column::kEvents:
        EXPECT_EQ(op.key, store::Fixed64Key(9));
        EXPECT_EQ(op.value, EncodeEvent(e));
        break;
      case store::Column::kTimeline:
        EXPECT_EQ(op.key, timeline_key);
        EXPECT_EQ(op.value, "");
        break;
      case store::Column::kMessageIds:
        EXPECT_EQ(op.key, std::string("\x01"
                                      "12345678"
                                      "msg-9"));
        EXPECT_EQ(op.value, message_value);
        break;
      default:
        ADD_FAILURE() << "unexpected column " << static_cast<int>(op.column);
    }
  }
}

TEST(TimelineTest, CorruptStoredDataIsDataLoss) {
  store::MemKvStore kv;
  store::WriteBatch batch;
  batch.Put(store::Column::kEvents, store::Fixed64Key(1), "\x01garbage");
  batch.Put(store::Column::kEvents, store::Fixed64Key(2), EncodeEvent(MakeEvent(3, 0, 0)));
  batch.Put(store::Column::kMessageIds, "short", "1234");
  ASSERT_TRUE(kv.Write(batch, true).ok());
  EXPECT_EQ(ReadEvent(kv, 1).status().code(), absl::StatusCode::kDataLoss);
  // An event stored under another seq than its own.
  EXPECT_EQ(ReadEvent(kv, 2).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(LookupMessageKey(kv, "short").status().code(), absl::StatusCode::kDataLoss);
}

TEST(TimelineTest, LastSeqAndForEachEventAfter) {
  store::MemKvStore kv;
  absl::StatusOr<EventSeq> empty = LastSeq(kv);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, 0u);

  Store(kv, {MakeEvent(1, 0, 500), MakeEvent(2, 1, 100), MakeEvent(300, 0, 50), MakeEvent(256, 2, 10)});
  absl::StatusOr<EventSeq> last = LastSeq(kv);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 300u);

  std::vector<EventSeq> seen;
  auto collect = [&seen](const Event& e) {
    seen.push_back(e.seq);
    return absl::OkStatus();
  };
  ASSERT_TRUE(ForEachEventAfter(kv, 0, collect).ok());
  EXPECT_EQ(seen, (std::vector<EventSeq>{1, 2, 256, 300}));
  seen.clear();
  ASSERT_TRUE(ForEachEventAfter(kv, 2, collect).ok());
  EXPECT_EQ(seen, (std::vector<EventSeq>{256, 300}));
  seen.clear();
  ASSERT_TRUE(ForEachEventAfter(kv, 300, collect).ok());
  EXPECT_TRUE(seen.empty());

  int calls = 0;
  absl::Status stop = ForEachEventAfter(kv, 0, [&calls](const Event& e) {
    ++calls;
    return e.seq == 2 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(stop.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
}

// Three atoms (ids chosen so their keys are neighbours, and one with a
// 0xff byte), interleaved times, ties on timestamp across atoms, seq order
// unrelated to time, negative times, and a non-member atom.
class ListEventsTest : public testing::Test {
 protected:
  void SetUp() override {
    const PersonId atoms[] = {4, 5, 0xff};
    EventSeq seq = 0;
    for (int i = 0; i < 30; ++i) {
      PersonId atom = atoms[(i * 7) % 3];
      TimeMs ts = (i % 5 == 0) ? 1000 : static_cast<TimeMs>((i * 37) % 23) * 100 - 400;
      events_.push_back(MakeEvent(++seq, atom, ts));
    }
    events_.push_back(MakeEvent(++seq, 6, 5000));   // not a member
    events_.push_back(MakeEvent(++seq, 3, -9000));  // not a member
    std::reverse(events_.begin(), events_.end());   // store order does not matter
    Store(kv_, events_);

    for (const Event& e : events_) {
      if (e.person != 6 && e.person != 3) expected_.push_back(e);
    }
    std::sort(expected_.begin(), expected_.end(), [](const Event& a, const Event& b) {
      return std::tie(a.timestamp, a.seq) > std::tie(b.timestamp, b.seq);
    });
  }

  std::vector<Event> ReadAll(size_t limit) {
    std::vector<Event> all;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      absl::StatusOr<TimelinePage> page = ListEvents(kv_, members_, limit, cursor);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->events.size(), limit);
      all.insert(all.end(), page->events.begin(), page->events.end());
      if (page->next.empty()) break;
      EXPECT_EQ(page->events.size(), limit) << "short page before the end";
      cursor = page->next;
    }
    return all;
  }

  store::MemKvStore kv_;
  std::vector<Event> events_;
  std::vector<Event> expected_;
  std::vector<PersonId> members_ = {5, 0xff, 4};
};

TEST_F(ListEventsTest, EveryEventOnceNewestFirstForEveryPageSize) {
  ASSERT_EQ(expected_.size(), 30u);
  for (size_t limit : {1, 2, 3, 7, 29, 30, 31, 1000}) {
    SCOPED_TRACE(limit);
    std::vector<Event> all = ReadAll(limit);
    EXPECT_EQ(Seqs(all), Seqs(expected_));
  }
}

TEST_F(ListEventsTest, PagesCarryWholeEvents) {
  absl::StatusOr<TimelinePage> page = ListEvents(kv_, members_, 3, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) ExpectSameEvent(page->events[i], expected_[i]);
}

TEST_F(ListEventsTest, LastPageHasNoCursor) {
  absl::StatusOr<TimelinePage> page = ListEvents(kv_, members_, 30, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 30u);
  EXPECT_TRUE(page->next.empty());
}

TEST_F(ListEventsTest, CursorIsStableWhenNewerEventsArrive) {
  absl::StatusOr<TimelinePage> first = ListEvents(kv_, members_, 10, "");
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next.empty());
  // Newer events (and one at the very same time as the cursor, with a higher
  // seq, so it sorts before it) arrive between two page reads.
  const Event& boundary = first->events.back();
  Store(kv_, {MakeEvent(100, 4, 99999), MakeEvent(101, 5, boundary.timestamp)});

  std::vector<Event> rest;
  std::string cursor = first->next;
  while (!cursor.empty()) {
    absl::StatusOr<TimelinePage> page = ListEvents(kv_, members_, 4, cursor);
    ASSERT_TRUE(page.ok());
    rest.insert(rest.end(), page->events.begin(), page->events.end());
    cursor = page->next;
  }
  std::vector<Event> expected_rest(expected_.begin() + 10, expected_.end());
  EXPECT_EQ(Seqs(rest), Seqs(expected_rest));

  // The same cursor gives the same page again.
  absl::StatusOr<TimelinePage> again = ListEvents(kv_, members_, 4, first->next);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Seqs(again->events), Seqs({expected_rest.begin(), expected_rest.begin() + 4}));
}

TEST_F(ListEventsTest, DuplicateMembersDoNotRepeatEvents) {
  std::vector<PersonId> twice = {4, 4, 5, 0xff, 5};
  absl::StatusOr<TimelinePage> page = ListEvents(kv_, twice, 1000, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Seqs(page->events), Seqs(expected_));
}

TEST_F(ListEventsTest, SingleAtomAndUnknownAtom) {
  std::vector<PersonId> one = {6};
  absl::StatusOr<TimelinePage> page = ListEvents(kv_, one, 10, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].person, 6u);
  EXPECT_TRUE(page->next.empty());

  std::vector<PersonId> unknown = {77};
  page = ListEvents(kv_, unknown, 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_TRUE(page->next.empty());
}

TEST_F(ListEventsTest, LimitZeroIsAnEmptyPage) {
  absl::StatusOr<TimelinePage> page = ListEvents(kv_, members_, 0, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_TRUE(page->next.empty());
}

TEST_F(ListEventsTest, MalformedCursorIsInvalidArgument) {
  absl::StatusOr<TimelinePage> first = ListEvents(kv_, members_, 5, "");
  ASSERT_TRUE(first.ok());
  std::string good = first->next;
  std::string upper = good;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  for (const std::string& bad :
       {std::string("x"), std::string("zz"), good.substr(1), good + "0", std::string(good.size(), 'g'),
        upper == good ? std::string("!") : upper, std::string(good.size(), '\0')}) {
    absl::StatusOr<TimelinePage> page = ListEvents(kv_, members_, 5, bad);
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // Also with limit 0: the cursor is still checked.
  EXPECT_EQ(ListEvents(kv_, members_, 0, "zz").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TimelineTest, EntryWithoutItsEventIsDataLoss) {
  store::MemKvStore kv;
  Event e = MakeEvent(1, 2, 3);
  store::WriteBatch batch;
  AppendEvent(e, MessageIdKey(kScope, e.message_id), 0, &batch);
  batch.Delete(store::Column::kEvents, store::Fixed64Key(1));
  ASSERT_TRUE(kv.Write(batch, true).ok());
  std::vector<PersonId> members = {2};
  EXPECT_EQ(ListEvents(kv, members, 10, "").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace facet::profiles
