// KvStore: the ordered key-value store every durable module writes to.
//
// Keys are ordered bytewise within a column. A WriteBatch is applied
// atomically; with `sync` the call returns only after the write-ahead log is
// on stable storage. Concurrent Write() calls are safe; the RocksDB
// implementation shares one fsync among writers that arrive together.
//
//   store::WriteBatch batch;
//   batch.Put(store::Column::kEvents, key, value);
//   RETURN_IF_ERROR(kv.Write(batch, /*sync=*/true));
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace facet::store {

// Column families. Append only: the numeric values name RocksDB families.
enum class Column : uint8_t {
  kMeta = 0,    // counters, watermarks, schema version
  kEvents,      // seq -> encoded event
  kMessageIds,  // messageId -> seq + received time (dedupe and lookup)
  kTimeline,    // person + time + seq -> "" (per-person event index)
  kIdentities,  // namespace + keyed hash -> person
  kPersons,     // person -> identity-graph record
  kMerges,      // merge id -> merge record
  kProfiles,    // person -> profile checkpoint
  kQuarantine,  // seq -> rejected input with reason
  kCatalog,     // tag and segment definitions, manual members, membership snapshots
  kChanges,     // definition + seq -> a person entering or leaving it
  kCount,
};

const char* ColumnName(Column c);

// Operations to apply atomically, in order. Keys and values are copied into
// one buffer (cleared batches keep it), so that building a batch of many
// small writes allocates little.
class WriteBatch {
 public:
  enum class OpType : uint8_t { kPut, kDelete };
  // One operation; `key` and `value` point into the batch and are valid
  // until it next changes.
  struct Op {
    OpType type;
    Column column;
    std::string_view key;
    std::string_view value;
  };

  WriteBatch() = default;
  WriteBatch(const WriteBatch&) = default;
  WriteBatch& operator=(const WriteBatch&) = default;
  // A moved-from batch is empty.
  WriteBatch(WriteBatch&& other) noexcept
      : data_(std::move(other.data_)), entries_(std::move(other.entries_)), bytes_(std::exchange(other.bytes_, 0)) {
    other.Clear();
  }
  WriteBatch& operator=(WriteBatch&& other) noexcept {
    data_ = std::move(other.data_);
    entries_ = std::move(other.entries_);
    bytes_ = std::exchange(other.bytes_, 0);
    other.Clear();
    return *this;
  }

  void Put(Column c, std::string_view key, std::string_view value) {
    entries_.push_back(
        Entry{data_.size(), static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size()), OpType::kPut, c});
    data_.append(key).append(value);
    bytes_ += key.size() + value.size();
  }
  void Delete(Column c, std::string_view key) {
    entries_.push_back(Entry{data_.size(), static_cast<uint32_t>(key.size()), 0, OpType::kDelete, c});
    data_.append(key);
    bytes_ += key.size();
  }
  void Append(WriteBatch&& other) {
    for (const Entry& e : other.entries_) {
      entries_.push_back(e);
      entries_.back().offset += data_.size();
    }
    data_.append(other.data_);
    bytes_ += other.bytes_;
    other.Clear();
  }
  // Removes every operation; keeps the memory for reuse.
  void Clear() {
    entries_.clear();
    data_.clear();
    bytes_ = 0;
  }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }
  // The i-th operation, 0 <= i < size().
  Op op(size_t i) const {
    const Entry& e = entries_[i];
    const std::string_view data(data_);
    return Op{e.type, e.column, data.substr(e.offset, e.key_size), data.substr(e.offset + e.key_size, e.value_size)};
  }
  // All operations, in order.
  std::vector<Op> ops() const {
    std::vector<Op> out;
    out.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) out.push_back(op(i));
    return out;
  }

 private:
  struct Entry {
    size_t offset;  // of the key in data_; the value follows it
    uint32_t key_size;
    uint32_t value_size;
    OpType type;
    Column column;
  };
  std::string data_;
  std::vector<Entry> entries_;
  size_t bytes_ = 0;
};

// A cursor over one column. Not thread-safe; one per reader.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Valid() const = 0;
  // Positions at the first key >= target.
  virtual void Seek(std::string_view target) = 0;
  // Positions at the last key <= target.
  virtual void SeekForPrev(std::string_view target) = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // The error that ended iteration, if any.
  virtual absl::Status status() const = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // Applies `batch` atomically. With `sync`, durable when this returns OK.
  virtual absl::Status Write(const WriteBatch& batch, bool sync) = 0;

  // Returns the value, NotFound, or the store's error.
  virtual absl::StatusOr<std::string> Get(Column c, std::string_view key) const = 0;

  // Returns a cursor over a consistent snapshot of column `c`.
  virtual std::unique_ptr<Iterator> NewIterator(Column c) const = 0;

  // Approximate on-disk size in bytes (for /metrics).
  virtual uint64_t ApproximateSizeBytes() const = 0;
};

}  // namespace facet::store
