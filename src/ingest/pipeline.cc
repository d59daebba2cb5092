#include "ingest/pipeline.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "base/log.h"
#include "base/status.h"
#include "base/str_cat.h"
#include "base/thread_name.h"
#include "profiles/timeline.h"
#include "store/key_codec.h"

namespace facet::ingest {
namespace {

constexpr size_t kMaxQuarantineRaw = 4096;
// kMeta: accepted, rejected, de-duplicated events and group commits, u64 each.
constexpr std::string_view kMetaIngestCounters = "ingest/counters";
// A group's write batch up to this size is kept for the next group.
constexpr size_t kMaxReusedBatchBytes = 16 << 20;

// Quarantine record: received_at(8) index(4) then length-prefixed error,
// field and raw text.
void PutString(std::string* out, std::string_view s) {
  store::PutFixed32BE(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool GetString(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = store::DecodeFixed32BE(*in);
  in->remove_prefix(4);
  if (in->size() < n) return false;
  out->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

std::string EncodeQuarantine(TimeMs received_at, const InputError& e, std::string_view raw) {
  std::string out;
  store::PutInt64Ordered(&out, received_at);
  store::PutFixed32BE(&out, static_cast<uint32_t>(e.index));
  PutString(&out, e.error);
  PutString(&out, e.field);
  PutString(&out, raw.substr(0, kMaxQuarantineRaw));
  return out;
}

absl::StatusOr<QuarantineEntry> DecodeQuarantine(uint64_t id, std::string_view in) {
  QuarantineEntry q;
  q.id = id;
  if (in.size() < 12) return absl::DataLossError("quarantine record " + std::to_string(id) + " truncated");
  q.received_at = store::DecodeInt64Ordered(in);
  q.error.index = static_cast<int>(store::DecodeFixed32BE(in.substr(8)));
  in.remove_prefix(12);
  if (!GetString(&in, &q.error.error) || !GetString(&in, &q.error.field) || !GetString(&in, &q.raw)) {
    return absl::DataLossError("quarantine record " + std::to_string(id) + " corrupt");
  }
  return q;
}

}  // namespace

struct Pipeline::Work {
  RequestParse parse;
  // With an audience engine: what it keeps of each event, by index into
  // parse.events, read by Submit() on the caller's thread.
  std::vector<segments::EventFields> fields;
  // The pseudonyms of every event's identifiers, event after event, computed
  // by Submit() on the caller's thread.
  std::vector<identity::IdentifierDigest> digests;
  // By event: the messageId key in the sender's scope, and a hash of the
  // event's identity and body (a same-id event that differs conflicts).
  std::vector<std::string> message_keys;
  std::vector<uint64_t> fingerprints;
  Done done;
  Mutation mutation;  // set for Execute()
  std::function<void(absl::Status)> mutation_done;
  IngestAck ack;
  absl::Status mutation_status;
};

struct Pipeline::Group {
  store::WriteBatch batch;
  std::vector<std::unique_ptr<Work>> work;
};

Pipeline::Pipeline(store::KvStore& kv, identity::IdentityGraph& graph, profiles::ProfileStore& profiles,
                   const Clock& clock, PipelineOptions options)
    : kv_(kv),
      graph_(graph),
      profiles_(profiles),
      clock_(clock),
      options_(std::move(options)),
      pseudonymizer_(graph.pseudonymizer()) {}

Pipeline::~Pipeline() { Stop(); }

absl::Status Pipeline::Recover() {
  RETURN_IF_ERROR(Annotate(graph_.Load(), "loading identity graph"));
  const auto persons = static_cast<PersonId>(graph_.atom_count());
  RETURN_IF_ERROR(Annotate(profiles_.Load(persons), "loading profiles"));
  ASSIGN_OR_RETURN(EventSeq last, profiles::LastSeq(kv_));
  ASSIGN_OR_RETURN(unscoped_message_ids_, profiles::HasUnscopedMessageIds(kv_));
  {
    absl::StatusOr<std::string> stats = kv_.Get(store::Column::kMeta, kMetaIngestCounters);
    if (stats.ok() && stats->size() == 32) {
      const std::string_view v = *stats;
      counters_.events_accepted = store::DecodeFixed64BE(v);
      counters_.events_rejected = store::DecodeFixed64BE(v.substr(8));
      counters_.events_deduplicated = store::DecodeFixed64BE(v.substr(16));
      counters_.group_commits = store::DecodeFixed64BE(v.substr(24));
    } else if (stats.ok()) {
      return absl::DataLossError("ingest counters record of " + std::to_string(stats->size()) + " bytes");
    } else if (!absl::IsNotFound(stats.status())) {
      return Annotate(stats.status(), "reading ingest counters");
    }
  }
  next_seq_ = last + 1;
  // Events after the checkpoint are replayed onto their atoms' profiles.
  uint64_t replayed = 0;
  RETURN_IF_ERROR(Annotate(profiles::ForEachEventAfter(kv_, profiles_.watermark(),
                                                       [&](const profiles::Event& e) {
                                                         profiles_.Apply(e, e.person);
                                                         ++replayed;
                                                         return absl::OkStatus();
                                                       }),
                           "replaying events"));
  // Views of merged persons are combinations of their atoms.
  absl::flat_hash_set<PersonId> merged_roots;
  for (PersonId atom = 0; atom < graph_.atom_count(); ++atom) {
    if (!graph_.IsRoot(atom)) merged_roots.insert(graph_.Root(atom));
  }
  for (PersonId root : merged_roots) {
    auto members = graph_.Members(root);
    profiles_.RebuildView(root, members);
  }
  {
    auto it = kv_.NewIterator(store::Column::kQuarantine);
    it->SeekToLast();
    if (it->Valid() && it->key().size() == 8) next_quarantine_id_ = store::DecodeFixed64BE(it->key()) + 1;
    it->SeekToFirst();
    if (it->Valid() && it->key().size() == 8) oldest_quarantine_id_ = store::DecodeFixed64BE(it->key());
    RETURN_IF_ERROR(it->status());
  }
  counters_.events_total = last;
  counters_.persons = graph_.person_count();
  counters_.identities = graph_.identity_count();
  counters_.merges = graph_.merge_count();
  counters_.merge_refusals = graph_.refusal_count();
  store::WriteBatch batch;
  if (replayed > 0) profiles_.Checkpoint(last, &batch);
  if (audiences_) {
    RETURN_IF_ERROR(audiences_->Recover(clock_.NowMs(), &batch));
    audiences_->Snapshot(&batch);
  }
  if (!batch.empty()) RETURN_IF_ERROR(Annotate(kv_.Write(batch, options_.sync), "writing recovery checkpoint"));
  last_checkpoint_ms_ = last_snapshot_ms_ = clock_.NowMs();
  return absl::OkStatus();
}

absl::Status Pipeline::Start() {
  RETURN_IF_ERROR(Recover());
  committer_ = std::thread([this] { CommitterLoop(); });
  return absl::OkStatus();
}

void Pipeline::Stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_ || !committer_.joinable()) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
  }
  queue_cv_.notify_all();
  committer_.join();
  if (healthy_.load()) {
    std::unique_lock state(state_mu_);
    store::WriteBatch batch;
    profiles_.Checkpoint(next_seq_ - 1, &batch);
    if (audiences_) audiences_->Snapshot(&batch);
    // Best effort: recovery replays the events after the last checkpoint.
    if (absl::Status s = kv_.Write(batch, true); !s.ok()) log::Warn("final checkpoint not written: ", s.message());
  }
}

void Pipeline::Submit(RequestParse parse, Done done) {
  auto w = std::make_unique<Work>();
  // Hashing and parsing here, on the caller's (HTTP) thread, keeps the work
  // off the committer, the one thread all ingest shares.
  size_t ids = 0;
  for (const ParsedEvent& pe : parse.events) ids += pe.identifiers.size();
  w->digests.resize(ids);
  size_t at = 0;
  for (const ParsedEvent& pe : parse.events) {
    for (const identity::Identifier& id : pe.identifiers) {
      pseudonymizer_.DigestInto(id.ns, id.value, w->digests[at++]);
    }
  }
  if (audiences_) {
    w->fields.reserve(parse.events.size());
    for (const ParsedEvent& pe : parse.events) w->fields.emplace_back(pe.event);
  }
  const std::string scope = MessageScope(parse.source_key);
  w->message_keys.reserve(parse.events.size());
  w->fingerprints.reserve(parse.events.size());
  std::string body;
  for (const ParsedEvent& pe : parse.events) {
    const profiles::Event& e = pe.event;
    w->message_keys.push_back(profiles::MessageIdKey(scope, e.message_id));
    body.assign(profiles::EventTypeName(e.type)).push_back('\0');
    body.append(e.name).push_back('\0');
    for (const identity::Identifier& id : pe.identifiers)
      body.append(id.ns).append(1, '=').append(id.value).push_back('\0');
    body.append(e.properties).push_back('\0');
    for (const auto& [key, json] : e.traits) body.append(key).append(1, '=').append(json).push_back('\0');
    identity::IdentifierDigest d;
    pseudonymizer_.DigestInto("event", body, d);
    uint64_t fingerprint = 0;
    for (int b = 0; b < 8; ++b) fingerprint = (fingerprint << 8) | d[b];
    w->fingerprints.push_back(fingerprint);
  }
  w->parse = std::move(parse);
  w->done = std::move(done);
  absl::Status refused;
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_ && bg_error_.ok()) {
      // The committer sleeps only on an empty queue: work queued behind
      // other work needs no wake-up (and no futex call).
      if (queue_.empty()) queue_cv_.notify_one();
      queue_.push_back(std::move(w));
      return;
    }
    refused = bg_error_.ok() ? absl::UnavailableError("server is shutting down") : bg_error_;
  }
  Fail(*w, refused);
}

void Pipeline::Execute(Mutation mutation, std::function<void(absl::Status)> done) {
  auto w = std::make_unique<Work>();
  w->mutation = std::move(mutation);
  w->mutation_done = std::move(done);
  absl::Status refused;
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_ && bg_error_.ok()) {
      // The committer sleeps only on an empty queue: work queued behind
      // other work needs no wake-up (and no futex call).
      if (queue_.empty()) queue_cv_.notify_one();
      queue_.push_back(std::move(w));
      return;
    }
    refused = bg_error_.ok() ? absl::UnavailableError("pipeline is not running") : bg_error_;
  }
  Fail(*w, refused);
}

absl::Status Pipeline::background_error() const {
  std::lock_guard lock(queue_mu_);
  return bg_error_;
}

absl::Status Pipeline::RecordStoreFailure(const absl::Status& cause) {
  absl::Status kept;
  bool first = false;
  {
    std::lock_guard lock(queue_mu_);
    if (bg_error_.ok()) {
      bg_error_ = absl::UnavailableError(Cat("store write failed: ", cause.message()));
      first = true;
    }
    kept = bg_error_;
  }
  healthy_.store(false, std::memory_order_release);
  if (first) {
    log::Error(kept.message(), " [", absl::StatusCodeToString(cause.code()),
               "]; refusing every write until a restart recovers from the store");
  }
  return kept;
}

void Pipeline::Fail(Work& w, const absl::Status& status) {
  if (w.mutation) {
    w.mutation_done(status);
  } else {
    IngestAck ack;
    ack.status = status;
    w.done(std::move(ack));
  }
}

void Pipeline::UndoMerge(uint64_t merge_id, std::function<void(absl::StatusOr<identity::UndoResult>)> done) {
  auto result = std::make_shared<identity::UndoResult>();
  Execute(
      [this, merge_id, result](store::WriteBatch* batch) -> absl::Status {
        ASSIGN_OR_RETURN(*result, graph_.UndoMerge(merge_id, clock_.NowMs(), batch));
        for (PersonId root : {result->survivor_root, result->restored}) {
          auto members = graph_.Members(root);
          profiles_.RebuildView(root, members);
        }
        if (audiences_) audiences_->OnUndo(*result, clock_.NowMs(), batch);
        counters_.persons = graph_.person_count();
        counters_.merges = graph_.merge_count();
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status s) {
        if (!s.ok()) {
          done(s);
        } else {
          done(*result);
        }
      });
}

std::string Pipeline::MessageScope(std::string_view key) const {
  return pseudonymizer_.Digest("write_key", key).substr(0, profiles::kMessageScopeBytes);
}

void Pipeline::ApplyWork(Work& w, Group& g, absl::flat_hash_map<std::string_view, uint64_t>& group_ids) {
  if (w.mutation) {
    w.mutation_status = w.mutation(&g.batch);
    return;
  }
  const TimeMs now = clock_.NowMs();
  RequestParse& p = w.parse;
  auto quarantine = [&](const InputError& err, std::string_view raw) {
    const uint64_t id = next_quarantine_id_++;
    g.batch.Put(store::Column::kQuarantine, store::Fixed64Key(id), EncodeQuarantine(now, err, raw));
    while (next_quarantine_id_ - oldest_quarantine_id_ > options_.quarantine_capacity) {
      g.batch.Delete(store::Column::kQuarantine, store::Fixed64Key(oldest_quarantine_id_++));
    }
    w.ack.quarantined.push_back(err);
    counters_.events_rejected.fetch_add(1, std::memory_order_relaxed);
  };
  for (size_t i = 0; i < p.rejected.size(); ++i) {
    quarantine(p.rejected[i], i < p.rejected_raw.size() ? p.rejected_raw[i] : std::string_view());
  }
  size_t digests_at = 0;  // of the event's first identifier in w.digests
  for (size_t i = 0; i < p.events.size(); ++i) {
    ParsedEvent& pe = p.events[i];
    profiles::Event& e = pe.event;
    const size_t first_digest = digests_at;
    digests_at += pe.identifiers.size();
    const std::string& message_key = w.message_keys[i];
    const uint64_t fingerprint = w.fingerprints[i];
    // The field prefix of a batch item, built only when an error or warning
    // names a field: most events need none, and this runs once per event.
    auto where = [&pe]() -> std::string { return pe.in_batch ? "batch[" + std::to_string(pe.index) + "]." : ""; };
    std::optional<uint64_t> seen_fingerprint;
    bool duplicate = false;
    if (auto it = group_ids.find(message_key); it != group_ids.end()) {
      duplicate = true;
      seen_fingerprint = it->second;
    } else {
      auto seen = profiles::LookupMessageKey(kv_, message_key);
      if (absl::IsNotFound(seen.status()) && unscoped_message_ids_) {
        seen = profiles::LookupMessageKey(kv_, e.message_id);
      }
      if (seen.ok()) {
        duplicate = now - seen->received_at < options_.dedupe_window_ms;
        seen_fingerprint = seen->fingerprint;
      } else if (!absl::IsNotFound(seen.status())) {
        w.ack.status = seen.status();
        return;
      }
    }
    if (duplicate && seen_fingerprint && *seen_fingerprint != fingerprint) {
      // Not a retry: another event under an id already taken. Kept aside,
      // never counted as a duplicate, so that it cannot hide the other.
      quarantine(InputError{"messageId conflict: an event with this messageId and a different identity or "
                            "body was already stored; not stored",
                            where() + "messageId", pe.in_batch ? pe.index : 0},
                 e.message_id);
      continue;
    }
    for (std::string& warning : pe.warnings) w.ack.warnings.push_back(where() + std::move(warning));
    if (duplicate) {
      ++w.ack.duplicates;
      counters_.events_deduplicated.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    auto resolved = graph_.Resolve(
        pe.identifiers,
        std::span<const identity::IdentifierDigest>(w.digests).subspan(first_digest, pe.identifiers.size()), now,
        profiles::EventTypeName(e.type), &g.batch, p.source_trust);
    if (!resolved.ok()) {
      InputError err{std::string(resolved.status().message()), where() + "userId", pe.in_batch ? pe.index : 0};
      quarantine(err, e.message_id);
      continue;
    }
    for (PersonId absorbed : resolved->absorbed) {
      profiles_.OnMerge(resolved->person, absorbed);
      if (audiences_) audiences_->OnMerge(resolved->person, absorbed, now, &g.batch);
    }
    e.seq = next_seq_++;
    e.person = resolved->person;
    profiles_.Apply(e, resolved->person);
    if (audiences_) {
      const size_t first_warning = w.ack.warnings.size();
      if (i < w.fields.size()) {
        audiences_->OnEvent(e, w.fields[i], resolved->person, now, &g.batch, &w.ack.warnings);
      } else {
        audiences_->OnEvent(e, segments::EventFields(e), resolved->person, now, &g.batch, &w.ack.warnings);
      }
      if (pe.in_batch && w.ack.warnings.size() > first_warning) {
        const std::string prefix = where();
        for (size_t k = first_warning; k < w.ack.warnings.size(); ++k) w.ack.warnings[k].insert(0, prefix);
      }
    }
    profiles::AppendEvent(e, message_key, fingerprint, &g.batch);
    group_ids.emplace(message_key, fingerprint);
    ++w.ack.accepted;
  }
}

void Pipeline::CommitterLoop() {
  NameThisThread("facet-commit");
  absl::flat_hash_map<std::string_view, uint64_t> group_ids;
  // The last group's batch, emptied: its memory serves the next group, and
  // is allocated and freed on this thread only.
  store::WriteBatch spare;
  while (true) {
    auto g = std::make_unique<Group>();
    g->batch = std::move(spare);
    absl::Status failed;
    {
      std::unique_lock lock(queue_mu_);
      if (!bg_error_.ok()) {
        // After a store failure nothing is written, timers and checkpoints
        // included: wait only for work queued before it, or for Stop().
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      } else {
        // While a checkpoint round runs, wake soon to write its next slice;
        // idle, wake when time alone next changes a membership (a window
        // closing), or for the next checkpoint.
        TimeMs wait_ms = checkpoint_running_ ? 5 : options_.checkpoint_interval_ms;
        if (audiences_) {
          const TimeMs next = audiences_->catalog().next_timer();
          if (next != segments::CompiledExpr::kNever) {
            wait_ms = std::clamp<TimeMs>(next - clock_.NowMs(), 1, wait_ms);
          }
        }
        queue_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_ || !queue_.empty(); });
      }
      if (queue_.empty() && stopping_) break;
      while (!queue_.empty() && g->work.size() < options_.max_group_requests) {
        g->work.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      failed = bg_error_;
    }
    if (!failed.ok()) {
      // Queued before the failure: fail it with the kept cause, unapplied.
      for (auto& w : g->work) Fail(*w, failed);
      continue;
    }
    uint64_t accepted = 0;
    {
      std::unique_lock state(state_mu_);
      // A duplicate inside the group is not in the store yet: catch it here.
      group_ids.clear();
      for (auto& w : g->work) {
        ApplyWork(*w, *g, group_ids);
        accepted += w->ack.accepted;
      }
      events_since_checkpoint_ += accepted;
      const TimeMs now = clock_.NowMs();
      if (audiences_) {
        audiences_->Advance(now, &g->batch);
        if (now - last_snapshot_ms_ >= options_.snapshot_interval_ms) {
          audiences_->Snapshot(&g->batch);
          last_snapshot_ms_ = now;
        }
      }
      if (!checkpoint_running_ &&
          (events_since_checkpoint_ >= options_.checkpoint_events ||
           (profiles_.dirty_count() > 0 && now - last_checkpoint_ms_ >= options_.checkpoint_interval_ms))) {
        checkpoint_running_ = true;
        events_since_checkpoint_ = 0;
        last_checkpoint_ms_ = now;
      }
      if (checkpoint_running_) {
        // A slice per group, so that a large checkpoint never stalls ingest.
        checkpoint_running_ = profiles_.CheckpointStep(next_seq_ - 1, options_.checkpoint_atoms_per_group, &g->batch);
      }
      counters_.persons = graph_.person_count();
      counters_.identities = graph_.identity_count();
      counters_.merges = graph_.merge_count();
      counters_.merge_refusals = graph_.refusal_count();
      if (audiences_) {
        counters_.trait_paths_indexed = audiences_->table().trait_paths();
        counters_.trait_paths_over_limit = audiences_->table().refused_over_count();
        counters_.trait_paths_too_deep = audiences_->table().refused_too_deep();
      }
      if (!g->batch.empty()) {
        // The counters as they stand once this group is written, so that
        // they survive a restart.
        std::string stats;
        store::PutFixed64BE(&stats, counters_.events_accepted.load(std::memory_order_relaxed) + accepted);
        store::PutFixed64BE(&stats, counters_.events_rejected.load(std::memory_order_relaxed));
        store::PutFixed64BE(&stats, counters_.events_deduplicated.load(std::memory_order_relaxed));
        store::PutFixed64BE(&stats, counters_.group_commits.load(std::memory_order_relaxed) + 1);
        g->batch.Put(store::Column::kMeta, kMetaIngestCounters, stats);
      }
    }
    absl::Status written = absl::OkStatus();
    if (!g->batch.empty()) written = kv_.Write(g->batch, options_.sync);
    if (g->batch.bytes() <= kMaxReusedBatchBytes) {
      spare = std::move(g->batch);
      spare.Clear();
    }
    if (!written.ok()) {
      // The state in memory is now ahead of the store: refuse further writes
      // until a restart recovers from the store.
      written = RecordStoreFailure(written);
    } else {
      counters_.group_commits.fetch_add(1, std::memory_order_relaxed);
      counters_.events_accepted.fetch_add(accepted, std::memory_order_relaxed);
      counters_.events_total.fetch_add(accepted, std::memory_order_relaxed);
    }
    {
      // Held while handing over, so that once SetCompletionExecutor(nullptr)
      // returns the old executor is never called again.
      std::lock_guard lock(executor_mu_);
      if (completion_executor_) {
        std::shared_ptr<Group> done(std::move(g));
        completion_executor_([done, written] { Complete(*done, written); });
      }
    }
    if (g) Complete(*g, written);
  }
}

void Pipeline::Complete(Group& g, const absl::Status& written) {
  for (auto& w : g.work) {
    if (w->mutation) {
      w->mutation_done(written.ok() ? w->mutation_status : written);
    } else {
      if (!written.ok()) w->ack.status = written;
      w->done(std::move(w->ack));
    }
  }
}

void Pipeline::SetCompletionExecutor(Executor executor) {
  std::lock_guard lock(executor_mu_);
  completion_executor_ = std::move(executor);
}

absl::StatusOr<std::vector<QuarantineEntry>> Pipeline::ListQuarantine(size_t limit) const {
  std::vector<QuarantineEntry> out;
  auto it = kv_.NewIterator(store::Column::kQuarantine);
  for (it->SeekToLast(); it->Valid() && out.size() < limit; it->Prev()) {
    if (it->key().size() != 8) return absl::DataLossError("malformed quarantine key");
    ASSIGN_OR_RETURN(QuarantineEntry q, DecodeQuarantine(store::DecodeFixed64BE(it->key()), it->value()));
    out.push_back(std::move(q));
  }
  RETURN_IF_ERROR(it->status());
  return out;
}

}  // namespace facet::ingest
