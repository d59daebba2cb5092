#include "importer/batch_sender.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "importer/internal/strings.h"
#include "nlohmann/json.hpp"

namespace facet::importer {
namespace {

constexpr size_t kBodyOverhead = 16;  // {"batch":[...]}

// "batch[3].properties.x" -> "properties.x"; "batch[3]" -> "".
std::string EventField(std::string_view field) {
  if (internal::StartsWith(field, "batch[")) {
    size_t close = field.find(']');
    if (close != std::string_view::npos) {
      field.remove_prefix(close + 1);
      if (!field.empty() && field[0] == '.') field.remove_prefix(1);
    }
  }
  return std::string(field);
}

std::string ServerReason(const nlohmann::json& entry) {
  std::string error = "rejected";
  std::string field;
  if (entry.is_object()) {
    auto e = entry.find("error");
    if (e != entry.end() && e->is_string()) error = e->get<std::string>();
    auto f = entry.find("field");
    if (f != entry.end() && f->is_string()) field = EventField(f->get<std::string>());
  }
  return field.empty() ? internal::Cat("refused by the server: ", error)
                       : internal::Cat("refused by the server: ", field, ": ", error);
}

// The index of an error entry, or -1.
int64_t EntryIndex(const nlohmann::json& entry) {
  if (!entry.is_object()) return -1;
  auto i = entry.find("index");
  if (i == entry.end() || !i->is_number_integer()) return -1;
  return i->get<int64_t>();
}

std::string ErrorMessage(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object()) {
    auto e = doc.find("error");
    if (e != doc.end() && e->is_string()) return e->get<std::string>();
  }
  std::string text = body.substr(0, 200);
  return text.empty() ? "no details" : text;
}

}  // namespace

BatchSender::BatchSender(SenderOptions options, Connector connect, Ledger& ledger,
                         std::unique_ptr<client::HttpClient> first_client)
    : options_(std::move(options)),
      connect_(std::move(connect)),
      ledger_(ledger),
      auth_(client::BasicAuth(options_.write_key, "")),
      first_client_(std::move(first_client)) {}

BatchSender::~BatchSender() { Finish().IgnoreError(); }  // the owner reads Finish()'s result first

void BatchSender::Start() {
  int n = std::max(1, options_.connections);
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<client::HttpClient> client = i == 0 ? std::move(first_client_) : nullptr;
    workers_.emplace_back([this, c = std::move(client)]() mutable { Worker(std::move(c)); });
  }
}

void BatchSender::Add(RowEvent event) {
  if (aborted()) {
    ledger_.Rejected(event.rows, internal::Cat("not sent: ", AbortReason()), event.raw);
    return;
  }
  size_t bytes = event.json.size() + 1;
  if (!current_.events.empty() && (current_.events.size() >= options_.batch_size ||
                                   current_.bytes + bytes + kBodyOverhead > options_.max_batch_bytes)) {
    FlushCurrent();
  }
  current_.bytes += bytes;
  current_.events.push_back(std::move(event));
  if (current_.events.size() >= options_.batch_size) FlushCurrent();
}

void BatchSender::FlushCurrent() {
  if (current_.events.empty()) return;
  std::unique_lock<std::mutex> lock(mu_);
  const size_t limit = 2 * static_cast<size_t>(std::max(1, options_.connections));
  not_full_.wait(lock, [&] { return queue_.size() < limit; });
  queue_.push_back(std::move(current_));
  current_ = Batch();
  not_empty_.notify_one();
}

absl::Status BatchSender::Finish() {
  if (!finished_) {
    finished_ = true;
    if (workers_.empty()) Start();
    FlushCurrent();
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    not_empty_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }
  std::lock_guard<std::mutex> lock(abort_mu_);
  return abort_status_;
}

void BatchSender::Worker(std::unique_ptr<client::HttpClient> client) {
  while (true) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      not_empty_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
      not_full_.notify_one();
    }
    counters_.events_sent.fetch_add(batch.events.size());
    Send(std::move(batch.events), client);
  }
}

void BatchSender::Abort(absl::Status status) {
  std::lock_guard<std::mutex> lock(abort_mu_);
  if (abort_status_.ok()) abort_status_ = std::move(status);
  aborted_.store(true);
}

std::string BatchSender::AbortReason() const {
  std::lock_guard<std::mutex> lock(abort_mu_);
  return internal::Cat("the import stopped: ", abort_status_.message());
}

void BatchSender::RejectAll(const std::vector<RowEvent>& events, std::string_view reason) {
  for (const RowEvent& e : events) ledger_.Rejected(e.rows, reason, e.raw);
}

void BatchSender::Send(std::vector<RowEvent> events, std::unique_ptr<client::HttpClient>& client) {
  if (events.empty()) return;
  client::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/batch";
  request.headers.push_back({"Authorization", auth_});
  request.body = "{\"batch\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) request.body.push_back(',');
    request.body.append(events[i].json);
  }
  request.body.append("]}");

  absl::Status last;
  int backoff_ms = std::max(1, options_.retry_initial_ms);
  for (int attempt = 1;; ++attempt) {
    if (aborted()) {
      RejectAll(events, internal::Cat("not sent: ", AbortReason()));
      return;
    }
    if (!client) {
      absl::StatusOr<std::unique_ptr<client::HttpClient>> c = connect_();
      if (c.ok()) {
        client = std::move(*c);
      } else {
        last = c.status();
      }
    }
    if (client) {
      counters_.requests.fetch_add(1);
      absl::StatusOr<client::HttpResponse> reply = client->Send(request);
      if (!reply.ok()) {
        last = reply.status();
        client.reset();
      } else {
        const int code = reply->status;
        if (code >= 200 && code < 300) {
          HandleAccepted(events, reply->body);
          return;
        }
        if (code == 400) {
          HandleBadRequest(std::move(events), reply->body, client);
          return;
        }
        if (code == 413) {
          if (events.size() == 1) {
            counters_.events_quarantined.fetch_add(1);
            RejectAll(events, "refused by the server: the event is too large (HTTP 413)");
            return;
          }
          std::vector<RowEvent> second(std::make_move_iterator(events.begin() + events.size() / 2),
                                       std::make_move_iterator(events.end()));
          events.resize(events.size() / 2);
          Send(std::move(events), client);
          Send(std::move(second), client);
          return;
        }
        if (code == 401 || code == 403) {
          std::string message =
              internal::Cat("the server refused the write key (HTTP ", code, "): ", ErrorMessage(reply->body));
          Abort(code == 401 ? absl::UnauthenticatedError(message) : absl::PermissionDeniedError(message));
          RejectAll(events, internal::Cat("not sent: ", AbortReason()));
          return;
        }
        std::string message = internal::Cat("POST /v1/batch answered HTTP ", code, ": ", ErrorMessage(reply->body));
        if (code != 429 && code < 500) {
          Abort(absl::FailedPreconditionError(message));
          RejectAll(events, internal::Cat("not sent: ", AbortReason()));
          return;
        }
        last = absl::UnavailableError(message);
      }
    }
    if (attempt >= options_.max_attempts) {
      Abort(
          absl::UnavailableError(internal::Cat("a batch failed ", attempt, " times in a row, last: ", last.message())));
      RejectAll(events, internal::Cat("not sent: ", AbortReason()));
      return;
    }
    counters_.retries.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, std::max(1, options_.retry_max_ms));
  }
}

void BatchSender::HandleAccepted(const std::vector<RowEvent>& events, const std::string& body) {
  std::vector<bool> refused(events.size(), false);
  uint64_t quarantined = 0;
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object()) {
    auto q = doc.find("quarantined");
    if (q != doc.end() && q->is_array()) {
      for (const nlohmann::json& entry : *q) {
        int64_t index = EntryIndex(entry);
        if (index < 0 || static_cast<size_t>(index) >= events.size() || refused[index]) continue;
        refused[index] = true;
        ++quarantined;
        ledger_.Rejected(events[index].rows, ServerReason(entry), events[index].raw);
      }
    }
  }
  uint64_t duplicates = 0;
  uint64_t accepted = events.size() - quarantined;
  if (doc.is_object()) {
    auto d = doc.find("duplicates");
    if (d != doc.end() && d->is_number_unsigned()) duplicates = d->get<uint64_t>();
    auto a = doc.find("accepted");
    if (a != doc.end() && a->is_number_unsigned()) {
      accepted = a->get<uint64_t>();
    } else {
      accepted -= std::min(accepted, duplicates);
    }
  }
  counters_.events_quarantined.fetch_add(quarantined);
  counters_.events_accepted.fetch_add(accepted);
  counters_.events_duplicate.fetch_add(duplicates);
  for (size_t i = 0; i < events.size(); ++i) {
    if (refused[i]) continue;
    ledger_.Imported(events[i].rows.size());
    counters_.items_omitted.fetch_add(events[i].items_omitted);
  }
}

void BatchSender::HandleBadRequest(std::vector<RowEvent> events, const std::string& body,
                                   std::unique_ptr<client::HttpClient>& client) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  std::vector<bool> refused(events.size(), false);
  size_t matched = 0;
  if (doc.is_object()) {
    for (const char* key : {"errors", "quarantined"}) {
      auto list = doc.find(key);
      if (list == doc.end() || !list->is_array()) continue;
      for (const nlohmann::json& entry : *list) {
        int64_t index = EntryIndex(entry);
        if (index < 0 || static_cast<size_t>(index) >= events.size() || refused[index]) continue;
        refused[index] = true;
        ++matched;
        ledger_.Rejected(events[index].rows, ServerReason(entry), events[index].raw);
      }
    }
  }
  if (matched == 0) {
    // The request as a whole was refused.
    counters_.events_quarantined.fetch_add(events.size());
    RejectAll(events, internal::Cat("refused by the server (HTTP 400): ", ErrorMessage(body)));
    return;
  }
  counters_.events_quarantined.fetch_add(matched);
  // Nothing of a 400 request is stored: send the events without an error
  // again (safe, as the server de-duplicates on messageId).
  std::vector<RowEvent> rest;
  for (size_t i = 0; i < events.size(); ++i) {
    if (!refused[i]) rest.push_back(std::move(events[i]));
  }
  Send(std::move(rest), client);
}

}  // namespace facet::importer
