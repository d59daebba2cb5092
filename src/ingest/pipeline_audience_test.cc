// The pipeline keeps tags and segments in step with what it commits:
// events, merges, undos and restarts.
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "gtest/gtest.h"
#include "ingest/pipeline.h"
#include "ingest/testing/pipeline_harness.h"
#include "segments/audience_engine.h"
#include "store/mem_kv_store.h"

namespace facet::ingest {
namespace {

constexpr TimeMs kNow = 1700000000000;
constexpr TimeMs kDay = 86400000;

ParsedEvent Event(std::string message_id, std::string user_id, std::string anonymous_id, std::string name, TimeMs at,
                  std::string properties = "{}") {
  ParsedEvent pe = testing::TrackEvent(std::move(message_id), std::move(user_id), std::move(anonymous_id),
                                       std::move(name), at, kNow);
  pe.event.properties = std::move(properties);
  return pe;
}

ParsedEvent Identify(std::string message_id, std::string user_id, std::string trait, std::string json) {
  ParsedEvent pe = Event(std::move(message_id), std::move(user_id), "", "", kNow);
  pe.event.type = profiles::EventType::kIdentify;
  pe.event.traits.emplace_back(std::move(trait), std::move(json));
  return pe;
}

struct World {
  World(store::KvStore& kv, const Clock& clock)
      : graph(kv, testing::IdentityOptionsForTest()),
        profiles(kv),
        audiences(kv, graph, profiles),
        pipeline(kv, graph, profiles, clock, Options()) {
    pipeline.SetAudienceEngine(&audiences);
  }
  static PipelineOptions Options() {
    PipelineOptions o;
    o.sync = false;
    return o;
  }
  void Submit(std::vector<ParsedEvent> events) {
    IngestAck ack = testing::SubmitAndWait(pipeline, std::move(events));
    ASSERT_TRUE(ack.status.ok()) << ack.status;
  }
  void Mutate(std::function<absl::Status(store::WriteBatch*)> m) {
    std::promise<absl::Status> done;
    pipeline.Execute(std::move(m), [&](absl::Status s) { done.set_value(s); });
    absl::Status s = done.get_future().get();
    ASSERT_TRUE(s.ok()) << s;
  }
  void DefineSegment(std::string name, std::string expression, TimeMs at) {
    Mutate([&](store::WriteBatch* b) {
      segments::SegmentDef def;
      def.name = std::move(name);
      def.expression = std::move(expression);
      return audiences.catalog().PutSegment(def, at, b);
    });
  }
  PersonId Find(std::string ns, std::string value) {
    return testing::FindPerson(pipeline, graph, std::move(ns), std::move(value));
  }
  std::vector<PersonId> Members(std::string_view segment) {
    auto lock = pipeline.LockForRead();
    auto m = audiences.catalog().SegmentMembers(segment);
    return m.ok() ? (*m)->ToVector() : std::vector<PersonId>{};
  }
  identity::IdentityGraph graph;
  profiles::ProfileStore profiles;
  segments::AudienceEngine audiences;
  Pipeline pipeline;
};

TEST(PipelineAudienceTest, MembershipFollowsEventsMergesUndosTimeAndRestarts) {
  store::MemKvStore kv;
  FakeClock clock(kNow);
  uint64_t merge_id = 0;
  {
    World w(kv, clock);
    ASSERT_TRUE(w.pipeline.Start().ok());
    w.DefineSegment("buyers", R"(count("Order Completed", 30d) >= 2)", clock.NowMs());
    w.DefineSegment("vip_buyers", R"(segment("buyers") AND trait.level = "gold")", clock.NowMs());
    w.Submit({Event("a1", "", "anon-1", "Order Completed", kNow - 10 * kDay),
              Event("u1", "u-1", "", "Order Completed", kNow - 2 * kDay)});
    PersonId anon = w.Find("anonymous_id", "anon-1");
    PersonId user = w.Find("user_id", "u-1");
    ASSERT_NE(anon, user);
    EXPECT_TRUE(w.Members("buyers").empty());
    // Linking the device to the user merges them: two orders in 30 days.
    w.Submit({Event("link", "u-1", "anon-1", "Page Viewed", kNow)});
    ASSERT_EQ(w.Find("anonymous_id", "anon-1"), user);
    EXPECT_EQ(w.Members("buyers"), std::vector<PersonId>{user});
    EXPECT_TRUE(w.Members("vip_buyers").empty());
    w.Submit({Identify("id1", "u-1", "level", "\"gold\"")});
    EXPECT_EQ(w.Members("vip_buyers"), std::vector<PersonId>{user});
    {
      auto lock = w.pipeline.LockForRead();
      merge_id = w.graph.MergesOf(user).back().id;
    }
    // Undo splits them again: each has one order.
    std::promise<absl::StatusOr<identity::UndoResult>> undone;
    w.pipeline.UndoMerge(merge_id, [&](absl::StatusOr<identity::UndoResult> r) { undone.set_value(r); });
    ASSERT_TRUE(undone.get_future().get().ok());
    EXPECT_TRUE(w.Members("buyers").empty());
    EXPECT_TRUE(w.Members("vip_buyers").empty());
    w.Submit({Event("u2", "u-1", "", "Order Completed", kNow - 1 * kDay)});
    EXPECT_EQ(w.Members("buyers"), std::vector<PersonId>{user});
    EXPECT_EQ(w.Members("vip_buyers"), std::vector<PersonId>{user});
    {
      auto lock = w.pipeline.LockForRead();
      auto changes = w.audiences.catalog().Changes(true, "buyers", 0, 0, 100);
      ASSERT_TRUE(changes.ok());
      ASSERT_EQ(changes->size(), 3u);  // entered (merge), left (undo), entered
      EXPECT_TRUE((*changes)[0].entered);
      EXPECT_FALSE((*changes)[1].entered);
      EXPECT_TRUE((*changes)[2].entered);
    }
    w.pipeline.Stop();
  }
  {
    // A restart rebuilds the same memberships from the event log.
    World w(kv, clock);
    ASSERT_TRUE(w.pipeline.Start().ok());
    PersonId user = w.Find("user_id", "u-1");
    EXPECT_EQ(w.Members("buyers"), std::vector<PersonId>{user});
    EXPECT_EQ(w.Members("vip_buyers"), std::vector<PersonId>{user});
    // 29 days later the older order leaves the 30-day window: the timer
    // moves the person out without any new event.
    clock.Advance(29 * kDay + 1);
    w.Submit({Event("other", "u-2", "", "Page Viewed", clock.NowMs())});
    EXPECT_TRUE(w.Members("buyers").empty());
    EXPECT_TRUE(w.Members("vip_buyers").empty());
    w.pipeline.Stop();
  }
}

// Every event's properties and kept context fields as the engine's person
// table holds them, as text: "person: time name | path=value ...".
std::vector<std::string> TableDump(World& w) {
  auto lock = w.pipeline.LockForRead();
  const segments::PersonTable& t = w.audiences.table();
  std::vector<std::string> out;
  for (PersonId id = 0; id < t.capacity(); ++id) {
    const segments::PersonTable::Person* p = t.Get(id);
    if (!p) continue;
    for (const segments::PersonTable::EventRow& e : p->events) {
      std::string line =
          std::to_string(id) + ": " + std::to_string(e.time) + " " + std::string(t.strings().Get(e.name)) + " |";
      const auto* c = p->cells.data() + e.cells_begin;
      for (size_t i = 0; i < size_t{e.property_count} + e.context_count; ++i, ++c) {
        segments::Value v = t.ToValue(*c);
        line += " " + std::string(t.strings().Get(c->key)) + "=";
        switch (v.kind) {
          case segments::Value::Kind::kNumber:
            line += std::to_string(v.number);
            break;
          case segments::Value::Kind::kBool:
            line += v.boolean ? "true" : "false";
            break;
          case segments::Value::Kind::kString:
            line += "'" + std::string(v.string) + "'";
            break;
          case segments::Value::Kind::kArray:
            line += "[" + std::to_string(v.array->size()) + "]";
            break;
          case segments::Value::Kind::kNull:
            line += "null";
            break;
        }
      }
      out.push_back(std::move(line));
    }
  }
  return out;
}

TEST(PipelineAudienceTest, EventFieldsReadAtSubmitMatchTheRebuildFromTheLog) {
  store::MemKvStore kv;
  FakeClock clock(kNow);
  std::vector<std::string> live;
  PersonId user = kNoPerson;
  {
    World w(kv, clock);
    ASSERT_TRUE(w.pipeline.Start().ok());
    w.DefineSegment("lens",
                    R"(count("Order Completed" WHERE properties.category = "lens" AND properties.meta.size = 3) >= 1)",
                    clock.NowMs());
    w.DefineSegment("app", R"(first_touch.channel = "app")", clock.NowMs());
    ParsedEvent order = Event("o1", "u-1", "", "Order Completed", kNow - kDay,
                              R"({"category":"lens","meta":{"size":3,"tags":["a",1,true,null,{"x":1}]},)"
                              R"("gone":null,"ok":true,"price":189.5,"big":18446744073709551615,)"
                              R"("名":"清透\u00e9\n","category":"lens"})");
    order.event.context = R"({"library":{"name":"x"},"channel":"app","campaign":{"name":"spring","n":2},)"
                          R"("source":7,"campaign.raw":"kept","medium":null})";
    ParsedEvent page = Event("p1", "u-1", "", "Home", kNow - 2 * kDay, R"({"path":"/"})");
    page.event.type = profiles::EventType::kPage;
    page.event.context = R"({"ip":"10.0.0.1"})";
    w.Submit({order, page, Event("o2", "u-2", "", "Order Completed", kNow, "not json")});
    user = w.Find("user_id", "u-1");
    EXPECT_EQ(w.Members("lens"), std::vector<PersonId>{user});
    EXPECT_EQ(w.Members("app"), std::vector<PersonId>{user});
    live = TableDump(w);
    w.pipeline.Stop();
  }
  ASSERT_EQ(live.size(), 3u);
  const std::string& order = live[1];  // u-1's events by time: the page, then the order
  for (const char* cell : {"properties.category='lens'", "properties.meta.size=3.000000", "properties.meta.tags=[3]",
                           "properties.ok=true", "properties.名='清透é\n'", "context.channel='app'",
                           "context.campaign.name='spring'", "context.campaign.raw='kept'"}) {
    EXPECT_NE(order.find(cell), std::string::npos) << cell << " not in " << order;
  }
  EXPECT_EQ(order.find("gone"), std::string::npos) << order;
  EXPECT_EQ(order.find("context.source"), std::string::npos) << order;
  World w(kv, clock);
  ASSERT_TRUE(w.pipeline.Start().ok());
  EXPECT_EQ(TableDump(w), live);
  EXPECT_EQ(w.Members("lens"), std::vector<PersonId>{user});
  EXPECT_EQ(w.Members("app"), std::vector<PersonId>{user});
  w.pipeline.Stop();
}

TEST(PipelineAudienceTest, AnIdleCommitterWakesWhenAWindowCloses) {
  store::MemKvStore kv;
  SystemClock clock;
  World w(kv, clock);
  ASSERT_TRUE(w.pipeline.Start().ok());
  w.DefineSegment("recent", R"(count("Order Completed", 1h) >= 1)", clock.NowMs());
  // An order that leaves the one-hour window a second from now; nothing
  // else arrives, and the next checkpoint is far off.
  const TimeMs now = clock.NowMs();
  ParsedEvent order = testing::TrackEvent("o1", "u-1", "", "Order Completed", now - 3600000 + 1000, now);
  w.Submit({std::move(order)});
  const PersonId user = w.Find("user_id", "u-1");
  EXPECT_EQ(w.Members("recent"), std::vector<PersonId>{user});
  const auto start = std::chrono::steady_clock::now();
  while (!w.Members("recent").empty() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(w.Members("recent").empty());
  EXPECT_LT(waited, std::chrono::seconds(4)) << "the committer slept past the window's end";
  w.pipeline.Stop();
}

}  // namespace
}  // namespace facet::ingest
