#include "profiles/timeline.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

#include "base/status.h"
#include "store/key_codec.h"

namespace facet::profiles {
namespace {

constexpr size_t kAtomBytes = 4;
constexpr size_t kTimelineKeyBytes = kAtomBytes + 8 + 8;
constexpr size_t kCursorBytes = 16;  // timestamp(8, ordered) + seq(8, BE)

std::string TimelineKey(PersonId atom, TimeMs timestamp, EventSeq seq) {
  std::string key;
  key.reserve(kTimelineKeyBytes);
  store::PutFixed32BE(&key, atom);
  store::PutInt64Ordered(&key, timestamp);
  store::PutFixed64BE(&key, seq);
  return key;
}

std::string SeqKey(EventSeq seq) { return store::Fixed64Key(seq); }

std::string SeqName(EventSeq seq) { return "event " + std::to_string(seq); }

// A position in the newest-first order of a timeline.
struct Position {
  TimeMs timestamp = 0;
  EventSeq seq = 0;

  friend bool operator<(const Position& a, const Position& b) {
    return std::tie(a.timestamp, a.seq) < std::tie(b.timestamp, b.seq);
  }
};

constexpr char kHexDigits[] = "0123456789abcdef";

std::string EncodeCursor(const Position& pos) {
  std::string raw;
  raw.reserve(kCursorBytes);
  store::PutInt64Ordered(&raw, pos.timestamp);
  store::PutFixed64BE(&raw, pos.seq);
  std::string hex;
  hex.reserve(2 * raw.size());
  for (unsigned char c : raw) {
    hex.push_back(kHexDigits[c >> 4]);
    hex.push_back(kHexDigits[c & 0xf]);
  }
  return hex;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::StatusOr<Position> DecodeCursor(std::string_view cursor) {
  if (cursor.size() != 2 * kCursorBytes) return absl::InvalidArgumentError("malformed timeline cursor");
  std::string raw(kCursorBytes, '\0');
  for (size_t i = 0; i < kCursorBytes; ++i) {
    int hi = HexValue(cursor[2 * i]);
    int lo = HexValue(cursor[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("malformed timeline cursor");
    raw[i] = static_cast<char>((hi << 4) | lo);
  }
  return Position{store::DecodeInt64Ordered(raw), store::DecodeFixed64BE(std::string_view(raw).substr(8))};
}

// Walks one atom's timeline newest-first.
class AtomCursor {
 public:
  AtomCursor(const store::KvStore& kv, PersonId atom)
      : it_(kv.NewIterator(store::Column::kTimeline)), prefix_(store::Fixed32Key(atom)) {}

  // Positions at the newest entry strictly before `before`, or at the
  // newest entry when `before` is unset.
  absl::Status Start(const std::optional<Position>& before) {
    if (before) {
      std::string target = prefix_;
      store::PutInt64Ordered(&target, before->timestamp);
      store::PutFixed64BE(&target, before->seq);
      it_->SeekForPrev(target);
      if (it_->Valid() && it_->key() == target) it_->Prev();
    } else {
      std::string target = prefix_;
      target.append(kTimelineKeyBytes - kAtomBytes, '\xff');
      it_->SeekForPrev(target);
    }
    return Settle();
  }

  absl::Status Advance() {
    it_->Prev();
    return Settle();
  }

  bool valid() const { return valid_; }
  const Position& position() const { return pos_; }

 private:
  // Reads the entry under the iterator, or ends this walk when it has left
  // the atom's prefix.
  absl::Status Settle() {
    valid_ = false;
    if (!it_->Valid()) return it_->status();
    std::string_view key = it_->key();
    if (key.substr(0, kAtomBytes) != prefix_) return absl::OkStatus();
    if (key.size() != kTimelineKeyBytes) {
      return absl::DataLossError("corrupt timeline key of " + std::to_string(key.size()) + " bytes");
    }
    pos_.timestamp = store::DecodeInt64Ordered(key.substr(kAtomBytes));
    pos_.seq = store::DecodeFixed64BE(key.substr(kAtomBytes + 8));
    valid_ = true;
    return absl::OkStatus();
  }

  std::unique_ptr<store::Iterator> it_;
  std::string prefix_;
  Position pos_;
  bool valid_ = false;
};

}  // namespace

constexpr char kScopedMessageId = '\x01';

std::string MessageIdKey(std::string_view scope, std::string_view message_id) {
  std::string key;
  key.reserve(1 + kMessageScopeBytes + message_id.size());
  key.push_back(kScopedMessageId);
  key.append(scope.substr(0, kMessageScopeBytes));
  key.resize(1 + kMessageScopeBytes, '\0');
  key.append(message_id);
  return key;
}

void AppendEvent(const Event& e, std::string_view message_key, uint64_t fingerprint, store::WriteBatch* batch) {
  batch->Put(store::Column::kEvents, SeqKey(e.seq), EncodeEvent(e));
  batch->Put(store::Column::kTimeline, TimelineKey(e.person, e.timestamp, e.seq), "");
  if (!e.message_id.empty()) {
    std::string entry;
    entry.reserve(24);
    store::PutFixed64BE(&entry, e.seq);
    store::PutInt64Ordered(&entry, e.received_at);
    store::PutFixed64BE(&entry, fingerprint);
    batch->Put(store::Column::kMessageIds, message_key, entry);
  }
}

absl::StatusOr<MessageIdEntry> LookupMessageKey(const store::KvStore& kv, std::string_view key) {
  ASSIGN_OR_RETURN(std::string raw, kv.Get(store::Column::kMessageIds, key));
  if (raw.size() != 16 && raw.size() != 24) {
    return absl::DataLossError("corrupt message-id entry: " + std::to_string(raw.size()) + " bytes");
  }
  std::string_view v(raw);
  MessageIdEntry entry{store::DecodeFixed64BE(v), store::DecodeInt64Ordered(v.substr(8)), std::nullopt};
  if (raw.size() == 24) entry.fingerprint = store::DecodeFixed64BE(v.substr(16));
  return entry;
}

absl::StatusOr<bool> HasUnscopedMessageIds(const store::KvStore& kv) {
  // Scoped keys open with 0x01 and sort before any printable message id.
  auto it = kv.NewIterator(store::Column::kMessageIds);
  it->SeekToLast();
  RETURN_IF_ERROR(it->status());
  return it->Valid() && !it->key().empty() && it->key()[0] != kScopedMessageId;
}

absl::StatusOr<Event> ReadEvent(const store::KvStore& kv, EventSeq seq) {
  absl::StatusOr<std::string> raw = kv.Get(store::Column::kEvents, SeqKey(seq));
  if (!raw.ok()) {
    if (absl::IsNotFound(raw.status())) return absl::NotFoundError(SeqName(seq) + " not found");
    return Annotate(raw.status(), "reading " + SeqName(seq));
  }
  absl::StatusOr<Event> e = DecodeEvent(*raw);
  if (!e.ok()) return Annotate(e.status(), SeqName(seq));
  if (e->seq != seq) {
    return absl::DataLossError(SeqName(seq) + " holds event " + std::to_string(e->seq));
  }
  return e;
}

absl::StatusOr<EventSeq> LastSeq(const store::KvStore& kv) {
  std::unique_ptr<store::Iterator> it = kv.NewIterator(store::Column::kEvents);
  it->SeekToLast();
  if (!it->Valid()) {
    RETURN_IF_ERROR(it->status());
    return EventSeq{0};
  }
  if (it->key().size() != 8) {
    return absl::DataLossError("corrupt event key of " + std::to_string(it->key().size()) + " bytes");
  }
  return store::DecodeFixed64BE(it->key());
}

absl::Status ForEachEventAfter(const store::KvStore& kv, EventSeq after,
                               const std::function<absl::Status(const Event&)>& fn) {
  if (after == std::numeric_limits<EventSeq>::max()) return absl::OkStatus();
  std::unique_ptr<store::Iterator> it = kv.NewIterator(store::Column::kEvents);
  for (it->Seek(SeqKey(after + 1)); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    if (key.size() != 8) {
      return absl::DataLossError("corrupt event key of " + std::to_string(key.size()) + " bytes");
    }
    EventSeq seq = store::DecodeFixed64BE(key);
    absl::StatusOr<Event> e = DecodeEvent(it->value());
    if (!e.ok()) return Annotate(e.status(), SeqName(seq));
    if (e->seq != seq) return absl::DataLossError(SeqName(seq) + " holds event " + std::to_string(e->seq));
    RETURN_IF_ERROR(fn(*e));
  }
  return it->status();
}

absl::StatusOr<TimelinePage> ListEvents(const store::KvStore& kv, std::span<const PersonId> members, size_t limit,
                                        std::string_view cursor) {
  std::optional<Position> before;
  if (!cursor.empty()) {
    ASSIGN_OR_RETURN(before, DecodeCursor(cursor));
  }
  TimelinePage page;
  if (limit == 0 || members.empty()) return page;

  std::vector<PersonId> atoms(members.begin(), members.end());
  std::sort(atoms.begin(), atoms.end());
  atoms.erase(std::unique(atoms.begin(), atoms.end()), atoms.end());

  std::vector<AtomCursor> walks;
  walks.reserve(atoms.size());
  // Max-heap of walk indexes by their current position: newest on top.
  auto newer_last = [&walks](size_t a, size_t b) { return walks[a].position() < walks[b].position(); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(newer_last)> heap(newer_last);
  for (PersonId atom : atoms) {
    walks.emplace_back(kv, atom);
    RETURN_IF_ERROR(Annotate(walks.back().Start(before), "reading timeline"));
    if (walks.back().valid()) heap.push(walks.size() - 1);
  }

  Position last;
  while (!heap.empty() && page.events.size() < limit) {
    size_t i = heap.top();
    heap.pop();
    last = walks[i].position();
    absl::StatusOr<Event> e = ReadEvent(kv, last.seq);
    if (absl::IsNotFound(e.status())) {
      return absl::DataLossError("timeline entry without its event: " + SeqName(last.seq));
    }
    if (!e.ok()) return e.status();
    page.events.push_back(*std::move(e));
    RETURN_IF_ERROR(Annotate(walks[i].Advance(), "reading timeline"));
    if (walks[i].valid()) heap.push(i);
  }
  if (!heap.empty()) page.next = EncodeCursor(last);
  return page;
}

}  // namespace facet::profiles
