#include "ingest/pipeline.h"

#include <future>

#include "base/log.h"
#include "gtest/gtest.h"
#include "ingest/testing/pipeline_harness.h"
#include "profiles/timeline.h"
#include "store/mem_kv_store.h"

namespace facet::ingest {
namespace {

constexpr TimeMs kNow = 1700000000000;

ParsedEvent Track(std::string message_id, std::string user_id, std::string name, double revenue = 0,
                  std::string anonymous_id = "") {
  ParsedEvent pe = testing::TrackEvent(std::move(message_id), std::move(user_id), std::move(anonymous_id),
                                       std::move(name), kNow, kNow);
  if (revenue != 0) pe.event.revenue = revenue;
  return pe;
}

// One server's worth of state over a shared store, so that tests can
// "restart" by building a new World on the same store.
struct World {
  World(store::KvStore& kv, const Clock& clock, PipelineOptions options = {})
      : graph(kv, testing::IdentityOptionsForTest()), profiles(kv), pipeline(kv, graph, profiles, clock, options) {}
  IngestAck SubmitAndWait(std::vector<ParsedEvent> events, std::vector<InputError> rejected = {}) {
    return testing::SubmitAndWait(pipeline, std::move(events), std::move(rejected));
  }
  PersonId Find(std::string ns, std::string value) {
    return testing::FindPerson(pipeline, graph, std::move(ns), std::move(value));
  }
  identity::IdentityGraph graph;
  profiles::ProfileStore profiles;
  Pipeline pipeline;
};

class PipelineTest : public ::testing::Test {
 protected:
  PipelineOptions Options() {
    PipelineOptions o;
    o.sync = false;
    return o;
  }
  store::MemKvStore kv_;
  FakeClock clock_{kNow};
};

TEST_F(PipelineTest, StoresEventsAndUpdatesProfiles) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  IngestAck ack =
      w.SubmitAndWait({Track("m1", "u1", "Order Completed", 10.5), Track("m2", "u1", "Order Completed", 4.5)});
  ASSERT_TRUE(ack.status.ok()) << ack.status;
  EXPECT_EQ(ack.accepted, 2u);
  PersonId p = w.Find("user_id", "u1");
  ASSERT_NE(p, kNoPerson);
  auto lock = w.pipeline.LockForRead();
  const auto& view = w.profiles.View(p);
  EXPECT_EQ(view.event_count, 2u);
  EXPECT_DOUBLE_EQ(view.revenue, 15.0);
  EXPECT_EQ(w.pipeline.counters().events_total.load(), 2u);
}

TEST_F(PipelineTest, DeduplicatesWithinRequestAcrossRequestsAndRestarts) {
  {
    World w(kv_, clock_, Options());
    ASSERT_TRUE(w.pipeline.Start().ok());
    IngestAck a = w.SubmitAndWait({Track("m1", "u1", "A"), Track("m1", "u1", "A")});
    EXPECT_EQ(a.accepted, 1u);
    EXPECT_EQ(a.duplicates, 1u);
    IngestAck b = w.SubmitAndWait({Track("m1", "u1", "A"), Track("m2", "u1", "A")});
    EXPECT_EQ(b.accepted, 1u);
    EXPECT_EQ(b.duplicates, 1u);
  }
  World again(kv_, clock_, Options());
  ASSERT_TRUE(again.pipeline.Start().ok());
  IngestAck c = again.SubmitAndWait({Track("m1", "u1", "A"), Track("m2", "u1", "A")});
  EXPECT_EQ(c.accepted, 0u);
  EXPECT_EQ(c.duplicates, 2u);
  EXPECT_EQ(again.pipeline.counters().events_total.load(), 2u);
}

TEST_F(PipelineTest, AcknowledgementsRunOnTheCompletionExecutor) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  std::mutex mu;
  std::vector<std::function<void()>> tasks;
  w.pipeline.SetCompletionExecutor([&](std::function<void()> task) {
    std::lock_guard lock(mu);
    tasks.push_back(std::move(task));
  });
  std::atomic<bool> acked{false};
  RequestParse p;
  p.events.push_back(Track("m1", "u1", "A"));
  w.pipeline.Submit(std::move(p), [&](IngestAck ack) {
    EXPECT_EQ(ack.accepted, 1u);
    acked = true;
  });
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mu);
      if (!tasks.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mu);
    ready.swap(tasks);
  }
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_FALSE(acked.load());  // durable, but not acknowledged until the task runs
  ready[0]();
  EXPECT_TRUE(acked.load());
  w.pipeline.SetCompletionExecutor(nullptr);
}

TEST_F(PipelineTest, MessageIdOutsideTheWindowIsANewEvent) {
  PipelineOptions o = Options();
  o.dedupe_window_ms = 1000;
  World w(kv_, clock_, o);
  ASSERT_TRUE(w.pipeline.Start().ok());
  EXPECT_EQ(w.SubmitAndWait({Track("m1", "u1", "A")}).accepted, 1u);
  clock_.Advance(999);
  EXPECT_EQ(w.SubmitAndWait({Track("m1", "u1", "A")}).duplicates, 1u);
  clock_.Advance(2);
  EXPECT_EQ(w.SubmitAndWait({Track("m1", "u1", "A")}).accepted, 1u);
}

TEST_F(PipelineTest, RejectedEventsAreQuarantinedWithReasons) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  IngestAck ack = w.SubmitAndWait({Track("m1", "u1", "A")}, {InputError{"event is required", "batch[1].event", 1}});
  EXPECT_EQ(ack.accepted, 1u);
  ASSERT_EQ(ack.quarantined.size(), 1u);
  auto q = w.pipeline.ListQuarantine(10);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].error.field, "batch[1].event");
  EXPECT_EQ((*q)[0].error.index, 1);
  EXPECT_EQ((*q)[0].raw, "{\"bad\":true}");
}

TEST_F(PipelineTest, QuarantineIsBounded) {
  PipelineOptions o = Options();
  o.quarantine_capacity = 3;
  World w(kv_, clock_, o);
  ASSERT_TRUE(w.pipeline.Start().ok());
  for (int i = 0; i < 5; ++i) {
    w.SubmitAndWait({}, {InputError{"bad " + std::to_string(i), "userId", 0}});
  }
  auto q = w.pipeline.ListQuarantine(10);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0].error.error, "bad 4");
  EXPECT_EQ((*q)[2].error.error, "bad 2");
}

TEST_F(PipelineTest, MergeAndUndoKeepAggregatesRight) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  w.SubmitAndWait({Track("m1", "", "Viewed", 0, "anon-1"), Track("m2", "", "Bought", 5, "anon-1")});
  w.SubmitAndWait({Track("m3", "u1", "Bought", 7)});
  // Links anon-1 to u1: two persons become one.
  w.SubmitAndWait({Track("m4", "u1", "Linked", 0, "anon-1")});
  PersonId p = w.Find("user_id", "u1");
  ASSERT_EQ(w.Find("anonymous_id", "anon-1"), p);
  uint64_t merge_id;
  {
    auto lock = w.pipeline.LockForRead();
    EXPECT_EQ(w.profiles.View(p).event_count, 4u);
    EXPECT_DOUBLE_EQ(w.profiles.View(p).revenue, 12.0);
    auto merges = w.graph.MergesOf(p);
    ASSERT_EQ(merges.size(), 1u);
    merge_id = merges[0].id;
  }
  std::promise<absl::StatusOr<identity::UndoResult>> undone;
  w.pipeline.UndoMerge(merge_id, [&](absl::StatusOr<identity::UndoResult> r) { undone.set_value(r); });
  auto r = undone.get_future().get();
  ASSERT_TRUE(r.ok()) << r.status();
  PersonId u = w.Find("user_id", "u1");
  PersonId a = w.Find("anonymous_id", "anon-1");
  ASSERT_NE(u, a);
  {
    auto lock = w.pipeline.LockForRead();
    EXPECT_EQ(w.profiles.View(a).event_count, 2u);
    EXPECT_DOUBLE_EQ(w.profiles.View(a).revenue, 5.0);
    EXPECT_EQ(w.profiles.View(u).event_count, 2u);
    EXPECT_DOUBLE_EQ(w.profiles.View(u).revenue, 7.0);
  }
  // A second undo of the same merge is refused.
  std::promise<absl::StatusOr<identity::UndoResult>> again;
  w.pipeline.UndoMerge(merge_id, [&](absl::StatusOr<identity::UndoResult> r) { again.set_value(r); });
  EXPECT_FALSE(again.get_future().get().ok());
}

TEST_F(PipelineTest, RestartReplaysEventsAfterTheCheckpoint) {
  PipelineOptions o = Options();
  o.checkpoint_events = 3;  // checkpoint after the first group only
  PersonId p;
  {
    World w(kv_, clock_, o);
    ASSERT_TRUE(w.pipeline.Start().ok());
    w.SubmitAndWait({Track("m1", "u1", "A", 1), Track("m2", "u1", "A", 1), Track("m3", "u1", "A", 1)});
    w.SubmitAndWait({Track("m4", "u1", "A", 1)});
    p = w.Find("user_id", "u1");
    // Simulate a crash: no final checkpoint.
    kv_.FailWritesForTest(absl::UnavailableError("crashed"));
  }
  kv_.FailWritesForTest(absl::OkStatus());
  World w(kv_, clock_, o);
  ASSERT_TRUE(w.pipeline.Start().ok());
  auto lock = w.pipeline.LockForRead();
  EXPECT_EQ(w.profiles.View(p).event_count, 4u);
  EXPECT_DOUBLE_EQ(w.profiles.View(p).revenue, 4.0);
}

TEST_F(PipelineTest, StoreFailureMakesThePipelineUnhealthy) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  EXPECT_TRUE(w.pipeline.healthy());
  EXPECT_TRUE(w.pipeline.background_error().ok());
  kv_.FailWritesForTest(absl::InternalError("disk full"));
  IngestAck ack = w.SubmitAndWait({Track("m1", "u1", "A")});
  EXPECT_EQ(ack.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(w.pipeline.healthy());
  IngestAck later = w.SubmitAndWait({Track("m2", "u1", "A")});
  EXPECT_EQ(later.status.code(), absl::StatusCode::kUnavailable);
  kv_.FailWritesForTest(absl::OkStatus());
}

// Runs `mutation` through Execute() and waits for its status.
absl::Status ExecuteAndWait(Pipeline& pipeline, Pipeline::Mutation mutation) {
  std::promise<absl::Status> done;
  pipeline.Execute(std::move(mutation), [&](absl::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

TEST_F(PipelineTest, FirstStoreFailureIsLoggedKeptAndReturnedByLaterWrites) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  ASSERT_TRUE(w.SubmitAndWait({Track("m0", "u0", "A")}).status.ok());
  log::CaptureForTest logged;

  kv_.FailWritesForTest(absl::InternalError("IO error: No space left on device"));
  IngestAck failed = w.SubmitAndWait({Track("m1", "u1", "A")});
  const absl::Status cause = absl::UnavailableError("store write failed: IO error: No space left on device");
  EXPECT_EQ(failed.status, cause);
  EXPECT_FALSE(w.pipeline.healthy());
  EXPECT_EQ(w.pipeline.background_error(), cause);

  // The first cause sticks: a different failure, or a store that works
  // again, changes nothing until a restart.
  kv_.FailWritesForTest(absl::DataLossError("a later, different failure"));
  EXPECT_EQ(w.SubmitAndWait({Track("m2", "u2", "A")}).status, cause);
  kv_.FailWritesForTest(absl::OkStatus());
  EXPECT_EQ(w.SubmitAndWait({Track("m3", "u3", "A")}).status, cause);
  bool ran = false;
  EXPECT_EQ(ExecuteAndWait(w.pipeline,
                           [&](store::WriteBatch*) {
                             ran = true;
                             return absl::OkStatus();
                           }),
            cause);
  EXPECT_FALSE(ran);
  std::promise<absl::StatusOr<identity::UndoResult>> undo;
  w.pipeline.UndoMerge(1, [&](absl::StatusOr<identity::UndoResult> r) { undo.set_value(std::move(r)); });
  EXPECT_EQ(undo.get_future().get().status(), cause);
  EXPECT_EQ(w.pipeline.background_error(), cause);

  // Logged once, at error level, with the cause.
  std::vector<std::pair<log::Level, std::string>> errors;
  for (const auto& line : logged.lines()) {
    if (line.first >= log::Level::kError) errors.push_back(line);
  }
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, log::Level::kError);
  EXPECT_NE(errors[0].second.find("store write failed: IO error: No space left on device"), std::string::npos)
      << errors[0].second;

  // Nothing after the failure reached the store: a restart sees m0 only.
  w.pipeline.Stop();
  World restarted(kv_, clock_, Options());
  ASSERT_TRUE(restarted.pipeline.Start().ok());
  EXPECT_TRUE(restarted.pipeline.background_error().ok());
  EXPECT_NE(restarted.Find("user_id", "u0"), kNoPerson);
  EXPECT_EQ(restarted.Find("user_id", "u1"), kNoPerson);
  EXPECT_EQ(restarted.Find("user_id", "u3"), kNoPerson);
}

TEST_F(PipelineTest, ConcurrentSubmittersShareGroupCommits) {
  World w(kv_, clock_, Options());
  ASSERT_TRUE(w.pipeline.Start().ok());
  std::vector<std::thread> threads;
  std::atomic<uint64_t> accepted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto ack = w.SubmitAndWait(
            {Track("t" + std::to_string(t) + "-" + std::to_string(i), "u" + std::to_string(i % 17), "A")});
        accepted += ack.accepted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 800u);
  EXPECT_EQ(w.pipeline.counters().events_total.load(), 800u);
  EXPECT_LE(w.pipeline.counters().group_commits.load(), 800u);
}

}  // namespace
}  // namespace facet::ingest
