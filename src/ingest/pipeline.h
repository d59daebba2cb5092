// Pipeline: the single writer of Facet's state. Takes parsed events,
// de-duplicates them on messageId, resolves identities, updates profiles and
// makes all of it durable in one synced write per group of requests (group
// commit), then acknowledges each request.
//
//   Pipeline pipeline(kv, graph, profiles, clock, options);
//   RETURN_IF_ERROR(pipeline.Start());           // recovery + committer thread
//   pipeline.Submit(std::move(parse), [](IngestAck ack) { ... reply ... });
//   { auto read = pipeline.LockForRead(); graph.Find(...); profiles.View(...); }
//
// Thread-safety: Submit(), Execute() and LockForRead() may be called from any
// thread. Completion callbacks run on the committer thread and must not block.
//
// A failed store write is fatal and sticky, like LevelDB's background error:
// the state in memory may then be ahead of the store, so the pipeline logs
// the cause, keeps the first one (background_error()), writes nothing more
// and fails every later Submit() and Execute() with it until a restart
// recovers from the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "base/clock.h"
#include "identity/identity_graph.h"
#include "ingest/tracking_parser.h"
#include "profiles/profile_store.h"
#include "segments/audience_engine.h"
#include "store/kv_store.h"

namespace facet::ingest {

struct PipelineOptions {
  // A messageId seen within this window is a duplicate; older ones are new.
  TimeMs dedupe_window_ms = 7LL * 24 * 3600 * 1000;
  // Most requests folded into one group commit.
  size_t max_group_requests = 4096;
  // Snapshot tag and segment memberships this often.
  TimeMs snapshot_interval_ms = 10LL * 60 * 1000;
  // Checkpoint profiles after this many events or milliseconds. A round
  // writes every profile changed since the last (at 100k active persons,
  // 5-10 % of ingest's time when every 200k events); recovery replays the
  // events after it.
  uint64_t checkpoint_events = 1000000;
  TimeMs checkpoint_interval_ms = 30000;
  // Most profiles one group commit writes for a checkpoint round.
  size_t checkpoint_atoms_per_group = 4096;
  // Quarantine keeps at most this many rejected events (oldest dropped).
  uint64_t quarantine_capacity = 100000;
  // Sync the write-ahead log before acknowledging (off only in tests).
  bool sync = true;
};

// Outcome of one request.
struct IngestAck {
  absl::Status status;    // OK once durable; the background error if the store failed
  size_t accepted = 0;    // new events stored
  size_t duplicates = 0;  // events already stored (same messageId)
  // Every rejection of the request (RequestParse::rejected, then events the
  // identity graph refused), each kept in the quarantine.
  std::vector<InputError> quarantined;
  // What was stored but not fully used: e.g. trait paths past the segment
  // engine's bounds, identifiers left out of resolution.
  std::vector<std::string> warnings;
};

struct PipelineCounters {
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> events_rejected{0};
  std::atomic<uint64_t> events_deduplicated{0};
  std::atomic<uint64_t> merges{0};
  std::atomic<uint64_t> merge_refusals{0};
  std::atomic<uint64_t> group_commits{0};
  std::atomic<uint64_t> persons{0};
  std::atomic<uint64_t> identities{0};
  std::atomic<uint64_t> events_total{0};  // events in the store
  // Trait paths the segment engine refused to index, by bound.
  std::atomic<uint64_t> trait_paths_indexed{0};
  std::atomic<uint64_t> trait_paths_over_limit{0};
  std::atomic<uint64_t> trait_paths_too_deep{0};
};

struct QuarantineEntry {
  uint64_t id = 0;
  TimeMs received_at = 0;
  InputError error;
  std::string raw;  // the event's JSON text, truncated
};

class Pipeline {
 public:
  // All references must outlive the pipeline.
  Pipeline(store::KvStore& kv, identity::IdentityGraph& graph, profiles::ProfileStore& profiles, const Clock& clock,
           PipelineOptions options);
  ~Pipeline();  // Stop()s

  // Tags and segments to keep in step with every commit (optional; set
  // before Start(), which rebuilds it). Must outlive the pipeline.
  void SetAudienceEngine(segments::AudienceEngine* engine) { audiences_ = engine; }

  // Loads the identity graph and profiles, replays events after the last
  // profile checkpoint, rebuilds the audience engine, and starts the committer.
  absl::Status Start();
  // Drains queued work, writes a final checkpoint and stops the committer.
  void Stop();

  using Done = std::function<void(IngestAck)>;
  // Queues `parse` (its events and rejections); `done` runs once they are
  // durable, or with an error status: Unavailable while shutting down, or
  // the background error once the store has failed. First computes on the calling thread
  // the pseudonyms of the events' identifiers and, with an audience engine,
  // what the engine keeps of each event (segments::EventFields), so that
  // the committer neither hashes nor parses.
  void Submit(RequestParse parse, Done done);

  // Runs `mutation` on the committer thread with exclusive access to the
  // state, in order with ingest; its writes to the batch are made durable
  // before `done` runs with its status: the mutation's own, or Unavailable
  // when the pipeline is not running, or the background error once the
  // store has failed (the mutation then does not run, or its writes are lost).
  using Mutation = std::function<absl::Status(store::WriteBatch*)>;
  void Execute(Mutation mutation, std::function<void(absl::Status)> done);

  // Undoes merge `merge_id` durably (identity and profiles); `done` runs on
  // the committer thread with the result (NotFound / FailedPrecondition from
  // the graph, or the store's error).
  void UndoMerge(uint64_t merge_id, std::function<void(absl::StatusOr<identity::UndoResult>)> done);

  // Where acknowledgements run: `executor` receives, once per group commit,
  // a task that runs the group's completion callbacks (e.g. posted to the
  // HTTP server's threads, so that the committer goes on with the next
  // group). Null (the default) runs them on the committer thread. The
  // executor must run every task it accepts; reset it to null before
  // whatever it posts to goes away. Thread-safe.
  using Executor = std::function<void(std::function<void()>)>;
  void SetCompletionExecutor(Executor executor);

  // Shared access to the graph and profiles for readers.
  std::shared_lock<std::shared_mutex> LockForRead() const { return std::shared_lock<std::shared_mutex>(state_mu_); }

  // The newest quarantined events, newest first, at most `limit`.
  absl::StatusOr<std::vector<QuarantineEntry>> ListQuarantine(size_t limit) const;

  const PipelineCounters& counters() const { return counters_; }

  // The messageId scope of write key `key` (profiles::kMessageScopeBytes
  // bytes): events de-duplicate only against events of the same key.
  std::string MessageScope(std::string_view key) const;
  // Whether the store still holds message-id entries from before scoping
  // (found by their message id alone). Set by Start().
  bool has_unscoped_message_ids() const { return unscoped_message_ids_; }
  // False after a store failure: the state in memory may be ahead of disk and
  // the process must be restarted to recover. Lock-free.
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  // OK, or the first store failure: Unavailable, its message "store write
  // failed: " and the store's own error (e.g. RocksDB's "IO error: ...").
  // Sticky until the process restarts. Thread-safe.
  absl::Status background_error() const;

 private:
  struct Work;
  struct Group;
  void CommitterLoop();
  static void Complete(Group& g, const absl::Status& written);
  // Fails `w` with `status` without applying it.
  static void Fail(Work& w, const absl::Status& status);
  // Records `cause`, a failed store write, as the background error unless
  // one is already kept; logs the first. Returns the kept error.
  absl::Status RecordStoreFailure(const absl::Status& cause);
  absl::Status Recover();
  // Applies one request or mutation to the state, appending to the group's
  // batch. `group_ids` maps the message keys already taken in this group to
  // their fingerprints.
  void ApplyWork(Work& w, Group& g, absl::flat_hash_map<std::string_view, uint64_t>& group_ids);

  store::KvStore& kv_;
  identity::IdentityGraph& graph_;
  profiles::ProfileStore& profiles_;
  const Clock& clock_;
  const PipelineOptions options_;
  // A copy of the graph's pseudonymizer (same key) for the submitting
  // threads.
  const identity::Pseudonymizer pseudonymizer_;

  mutable std::shared_mutex state_mu_;
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Work>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  // The first store failure (see background_error()); once set, nothing
  // more is queued or written.
  absl::Status bg_error_ ABSL_GUARDED_BY(queue_mu_);

  std::mutex executor_mu_;
  Executor completion_executor_ ABSL_GUARDED_BY(executor_mu_);

  std::thread committer_;
  // bg_error_.ok(), readable without the lock; set false after bg_error_.
  std::atomic<bool> healthy_{true};
  PipelineCounters counters_;

  EventSeq next_seq_ = 1;
  uint64_t next_quarantine_id_ = 1;
  uint64_t oldest_quarantine_id_ = 1;
  uint64_t events_since_checkpoint_ = 0;
  bool checkpoint_running_ = false;
  TimeMs last_checkpoint_ms_ = 0;
  segments::AudienceEngine* audiences_ = nullptr;
  TimeMs last_snapshot_ms_ = 0;
  bool unscoped_message_ids_ = false;
};

}  // namespace facet::ingest
