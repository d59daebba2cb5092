#include "demo/demo.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/clock.h"
#include "base/status.h"
#include "base/time_format.h"
#include "client/http_client.h"

namespace facet::demo {
namespace {

using client::HttpClient;
using client::HttpRequest;
using client::HttpResponse;

constexpr uint64_t kPersonsPerClaim = 16;
constexpr size_t kMaxBatchBytes = 400 * 1024;  // the server accepts 500 KB
constexpr int kMaxAttempts = 10;
constexpr int kRequestTimeoutMs = 60'000;

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// State shared by the sending threads.
class Run {
 public:
  Run(const DemoOptions& options, TimeMs end_ms)
      : options_(options), end_ms_(end_ms), auth_(client::BasicAuth(options.write_key, "")) {}

  // One sending thread: claims persons, batches their events, posts them.
  void Send() {
    auto connected = HttpClient::Connect(options_.url);
    if (!connected.ok()) {
      Fail(Annotate(connected.status(), "demo"));
      return;
    }
    std::unique_ptr<HttpClient> http = std::move(connected).value();
    http->set_timeout_ms(kRequestTimeoutMs);

    std::vector<std::string> events;
    Batch batch;
    for (;;) {
      if (stop_.load()) return;
      const uint64_t first = next_person_.fetch_add(kPersonsPerClaim);
      if (first >= options_.persons) break;
      const uint64_t last = std::min(options_.persons, first + kPersonsPerClaim);
      for (uint64_t i = first; i < last; ++i) {
        events.clear();
        GeneratePerson(options_.seed, i, end_ms_, options_.days, &events);
        for (std::string& e : events) {
          if (batch.count > 0 && (batch.count >= static_cast<size_t>(options_.batch_size) ||
                                  batch.body.size() + e.size() + 64 > kMaxBatchBytes)) {
            if (!Post(*http, &batch)) return;
          }
          batch.Add(e);
        }
      }
      persons_done_.fetch_add(last - first);
    }
    if (batch.count > 0) Post(*http, &batch);
  }

  // Prints a progress line every second until Finish().
  void Report(SteadyClock::time_point start) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      cv_.wait_for(lock, std::chrono::seconds(1));
      if (finished_) break;
      const double secs = SecondsSince(start);
      const uint64_t events = events_.load();
      std::fprintf(stderr, "\rdemo: %llu/%llu persons, %llu events, %.0f events/s   ",
                   static_cast<unsigned long long>(persons_done_.load()),
                   static_cast<unsigned long long>(options_.persons), static_cast<unsigned long long>(events),
                   secs > 0 ? events / secs : 0.0);
      std::fflush(stderr);
    }
  }

  void Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    cv_.notify_all();
  }

  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  std::string first_rejection() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_rejection_;
  }

  uint64_t persons_done() const { return persons_done_.load(); }
  uint64_t events() const { return events_.load(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  struct Batch {
    std::string body;
    size_t count = 0;

    void Add(const std::string& event) {
      body += count == 0 ? "{\"batch\":[" : ",";
      body += event;
      ++count;
    }
  };

  // Posts `batch` (and empties it), retrying transient failures. Returns
  // false when the run must stop.
  bool Post(HttpClient& http, Batch* batch) {
    HttpRequest req;
    req.method = "POST";
    req.target = "/v1/batch";
    req.headers.emplace_back("Authorization", auth_);
    req.body = std::move(batch->body);
    req.body += "],\"sentAt\":\"";
    req.body += FormatIso8601(SystemClock().NowMs());
    req.body += "\"}";
    const size_t count = batch->count;
    batch->body.clear();
    batch->count = 0;

    absl::Status last;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (stop_.load()) return false;
      if (attempt > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(2000, 50 << attempt)));
      }
      absl::StatusOr<HttpResponse> r = http.Send(req);
      if (!r.ok()) {
        last = r.status();
        continue;  // the client reconnects on the next attempt
      }
      if (r->status >= 200 && r->status < 300) {
        requests_.fetch_add(1);
        events_.fetch_add(count);
        return true;
      }
      if (r->status == 429 || r->status >= 500) {
        last = absl::UnavailableError("HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300));
        continue;
      }
      if (r->status == 401 || r->status == 403) {
        Fail(absl::PermissionDeniedError("demo: the server refused the write key (HTTP " + std::to_string(r->status) +
                                         "): " + r->body.substr(0, 300)));
        return false;
      }
      requests_.fetch_add(1);
      failed_.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu_);
      if (first_rejection_.empty()) {
        first_rejection_ = "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 500);
      }
      return true;
    }
    Fail(Annotate(last, "demo: giving up on a batch after " + std::to_string(kMaxAttempts) + " attempts"));
    return false;
  }

  void Fail(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = std::move(s);
    stop_.store(true);
  }

  const DemoOptions& options_;
  const TimeMs end_ms_;
  const std::string auth_;
  std::atomic<uint64_t> next_person_{0};
  std::atomic<uint64_t> persons_done_{0};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<bool> stop_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  absl::Status error_;
  std::string first_rejection_;
};

}  // namespace

absl::StatusOr<DemoSummary> RunDemo(const DemoOptions& options) {
  if (options.write_key.empty()) return absl::InvalidArgumentError("demo: a write key is required");
  if (options.days < 1) return absl::InvalidArgumentError("demo: days must be at least 1");
  if (options.connections < 1) return absl::InvalidArgumentError("demo: connections must be at least 1");
  if (options.batch_size < 1) return absl::InvalidArgumentError("demo: batch_size must be at least 1");

  const TimeMs end_ms = options.end_ms != 0 ? options.end_ms : SystemClock().NowMs();
  const auto start = SteadyClock::now();
  Run run(options, end_ms);
  std::thread reporter;
  if (options.progress) reporter = std::thread([&] { run.Report(start); });
  std::vector<std::thread> senders;
  for (int i = 0; i < options.connections; ++i) senders.emplace_back([&] { run.Send(); });
  for (auto& t : senders) t.join();
  run.Finish();
  if (reporter.joinable()) reporter.join();

  DemoSummary summary;
  summary.persons = run.persons_done();
  summary.events = run.events();
  summary.requests = run.requests();
  summary.failed_requests = run.failed();
  summary.seconds = SecondsSince(start);
  if (options.progress) {
    std::fprintf(stderr, "\rdemo: %llu persons, %llu events in %.1f s (%.0f events/s), %llu requests, %llu failed\n",
                 static_cast<unsigned long long>(summary.persons), static_cast<unsigned long long>(summary.events),
                 summary.seconds, summary.seconds > 0 ? summary.events / summary.seconds : 0.0,
                 static_cast<unsigned long long>(summary.requests),
                 static_cast<unsigned long long>(summary.failed_requests));
    if (summary.failed_requests > 0) {
      std::fprintf(stderr, "demo: first refused batch: %s\n", run.first_rejection().c_str());
    }
  }
  RETURN_IF_ERROR(run.status());
  return summary;
}

}  // namespace facet::demo
