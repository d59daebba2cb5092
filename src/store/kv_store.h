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
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace facet::store {

// Column families. Append only: the numeric values name RocksDB families.
enum class Column : uint8_t {
  kMeta = 0,        // counters, watermarks, schema version
  kEvents,          // seq -> encoded event
  kMessageIds,      // messageId -> seq + received time (dedupe and lookup)
  kTimeline,        // person + time + seq -> "" (per-person event index)
  kIdentities,      // namespace + keyed hash -> person
  kPersons,         // person -> identity-graph record
  kMerges,          // merge id -> merge record
  kProfiles,        // person -> profile checkpoint
  kQuarantine,      // seq -> rejected input with reason
  kCatalog,         // tag and segment definitions, manual members, membership snapshots
  kChanges,         // definition + seq -> a person entering or leaving it
  kCount,
};

const char* ColumnName(Column c);

class WriteBatch {
 public:
  enum class OpType : uint8_t { kPut, kDelete };
  struct Op {
    OpType type;
    Column column;
    std::string key;
    std::string value;
  };

  void Put(Column c, std::string_view key, std::string_view value) {
    ops_.push_back(Op{OpType::kPut, c, std::string(key), std::string(value)});
    bytes_ += key.size() + value.size();
  }
  void Delete(Column c, std::string_view key) {
    ops_.push_back(Op{OpType::kDelete, c, std::string(key), {}});
    bytes_ += key.size();
  }
  void Append(WriteBatch&& other) {
    for (auto& op : other.ops_) ops_.push_back(std::move(op));
    bytes_ += other.bytes_;
    other.Clear();
  }
  void Clear() {
    ops_.clear();
    bytes_ = 0;
  }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  size_t bytes() const { return bytes_; }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
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
