// Timeline: the stored events and the per-person index over them.
//
// Keys: kEvents: seq(8, BE) -> EncodeEvent; kTimeline: atom(4, BE) +
// timestamp(8, ordered) + seq(8, BE) -> ""; kMessageIds: 0x01 + scope(8) +
// message id -> seq(8, BE) + received_at(8, ordered) + fingerprint(8, BE).
// The scope is the sender's (one per write key), so that one sender's ids
// never hide another's events; stores written before scoping hold
// kMessageIds keys of the message id alone and 16-byte values.
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

inline constexpr size_t kMessageScopeBytes = 8;

struct MessageIdEntry {
  EventSeq seq = 0;
  TimeMs received_at = 0;
  // A hash of the event's identity and body; nullopt for entries written
  // before scoping.
  std::optional<uint64_t> fingerprint;
};

// The kMessageIds key of `message_id` in `scope` (kMessageScopeBytes bytes).
std::string MessageIdKey(std::string_view scope, std::string_view message_id);

// Appends the event, its timeline entry and, when e.message_id is not
// empty, its message-id entry under `message_key` (MessageIdKey) with
// `fingerprint`, to `batch`.
void AppendEvent(const Event& e, std::string_view message_key, uint64_t fingerprint, store::WriteBatch* batch);

// Reads the message-id entry of `key`: a MessageIdKey, or for entries
// written before scoping the message id itself. NotFound when unknown.
absl::StatusOr<MessageIdEntry> LookupMessageKey(const store::KvStore& kv, std::string_view key);

// Whether the store holds message-id entries written before scoping.
absl::StatusOr<bool> HasUnscopedMessageIds(const store::KvStore& kv);

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
absl::StatusOr<TimelinePage> ListEvents(const store::KvStore& kv, std::span<const PersonId> members, size_t limit,
                                        std::string_view cursor);

}  // namespace facet::profiles
