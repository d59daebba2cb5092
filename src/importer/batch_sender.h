// BatchSender: sends events to POST /v1/batch in batches over several
// connections, and records in the Ledger what became of each event's rows.
//
//   BatchSender sender(options, connect, ledger);
//   sender.Start();
//   sender.Add(std::move(event));   // blocks while enough batches wait
//   RETURN_IF_ERROR(sender.Finish());
//
// Replies: 200 -> rows of events listed in "quarantined" are rejected with
// the server's reason, the others imported; 400 -> events with their own
// error are rejected and the rest sent again (or all rejected when the
// request as a whole was refused); 413 -> the batch is split in two; 429,
// 5xx and network errors -> retried with exponential backoff; 401, 403 and
// other codes, or retries used up -> the import is aborted: rows not yet
// stored are rejected as not sent, and Finish() returns the error.
//
// Add(), Finish() and aborted() may be called from one producer thread;
// the workers are internal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/http_client.h"
#include "importer/ledger.h"
#include "importer/row_transform.h"

namespace facet::importer {

struct SenderOptions {
  std::string write_key;
  int connections = 2;
  size_t batch_size = 500;
  size_t max_batch_bytes = 500000;
  int max_attempts = 8;
  int retry_initial_ms = 200;
  int retry_max_ms = 10000;
};

struct SenderCounters {
  std::atomic<uint64_t> events_sent{0};
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> events_duplicate{0};
  std::atomic<uint64_t> events_quarantined{0};
  std::atomic<uint64_t> items_omitted{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> retries{0};
};

class BatchSender {
 public:
  using Connector = std::function<absl::StatusOr<std::unique_ptr<client::HttpClient>>()>;

  // `ledger` must outlive the sender. `first_client`, if given, is used by
  // the first worker instead of connecting.
  BatchSender(SenderOptions options, Connector connect, Ledger& ledger,
              std::unique_ptr<client::HttpClient> first_client = nullptr);
  ~BatchSender();  // Finish()es
  BatchSender(const BatchSender&) = delete;
  BatchSender& operator=(const BatchSender&) = delete;

  void Start();
  // Queues `event`. After an abort its rows are rejected at once.
  void Add(RowEvent event);
  // Sends everything queued and stops the workers. Returns the error that
  // aborted the import, if any. Idempotent.
  absl::Status Finish();
  bool aborted() const { return aborted_.load(); }

  const SenderCounters& counters() const { return counters_; }

 private:
  struct Batch {
    std::vector<RowEvent> events;
    size_t bytes = 0;
  };
  void Worker(std::unique_ptr<client::HttpClient> client);
  void FlushCurrent();  // queues `current_` (producer thread)
  // Sends `events` until each is accounted for.
  void Send(std::vector<RowEvent> events, std::unique_ptr<client::HttpClient>& client);
  void HandleAccepted(const std::vector<RowEvent>& events, const std::string& body);
  void HandleBadRequest(std::vector<RowEvent> events, const std::string& body,
                        std::unique_ptr<client::HttpClient>& client);
  void RejectAll(const std::vector<RowEvent>& events, std::string_view reason);
  void Abort(absl::Status status);
  std::string AbortReason() const;

  const SenderOptions options_;
  const Connector connect_;
  Ledger& ledger_;
  const std::string auth_;
  std::unique_ptr<client::HttpClient> first_client_;

  Batch current_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Batch> queue_;
  bool closing_ = false;
  bool finished_ = false;
  std::vector<std::thread> workers_;

  std::atomic<bool> aborted_{false};
  mutable std::mutex abort_mu_;
  absl::Status abort_status_;
  SenderCounters counters_;
};

}  // namespace facet::importer
