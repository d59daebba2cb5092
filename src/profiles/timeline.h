// Timeline: the stored events and the per-person index over them.
//
// Keys: kEvents: seq(8, BE) -> EncodeEvent; kTimeline: atom(4, BE) +
// timestamp(8, ordered) + seq(8, BE) -> ""; kMessageIds: message id ->
// seq(8, BE) + received_at(8, ordered).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"
#include "profiles/event.h"
#include "store/kv_store.h"

namespace facet::profiles {

struct MessageIdEntry {
  EventSeq seq = 0;
  TimeMs received_at = 0;
};

// Appends the event, its timeline entry and its message-id entry (when
// e.message_id is not empty) to `batch`.
void AppendEvent(const Event& e, store::WriteBatch* batch);

// Reads the message-id index. NotFound when unknown.
absl::StatusOr<MessageIdEntry> LookupMessageId(const store::KvStore& kv, std::string_view message_id);

// Reads event `seq`. NotFound when unknown, DataLoss when corrupt.
absl::StatusOr<Event> ReadEvent(const store::KvStore& kv, EventSeq seq);

// The highest stored seq (0 when there is none).
absl::StatusOr<EventSeq> LastSeq(const store::KvStore& kv);

// Calls `fn` for every event with seq > `after`, in seq order; stops at the
// first error of `fn` or the store.
absl::Status ForEachEventAfter(const store::KvStore& kv, EventSeq after,
                               const std::function<absl::Status(const Event&)>& fn);

struct TimelinePage {
  std::vector<Event> events;  // newest first
  std::string next;           // opaque cursor; empty at the end
};

// Events of the atoms `members`, newest first (by timestamp, then seq),
// at most `limit`, starting after `cursor` (from a previous page; empty for
// the first). InvalidArgument for a malformed cursor; DataLoss for a
// corrupt entry or one whose event is missing. `limit` 0 gives an empty page.
absl::StatusOr<TimelinePage> ListEvents(const store::KvStore& kv, std::span<const PersonId> members,
                                        size_t limit, std::string_view cursor);

}  // namespace facet::profiles
