#include "store/rocks_kv_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <system_error>
#include <vector>

namespace facet::store {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return absl::UnavailableError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  return absl::InternalError(msg);
}

class RocksIterator final : public Iterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  bool Valid() const override { return it_->Valid(); }
  void Seek(std::string_view t) override { it_->Seek(rocksdb::Slice(t.data(), t.size())); }
  void SeekForPrev(std::string_view t) override { it_->SeekForPrev(rocksdb::Slice(t.data(), t.size())); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override {
    auto k = it_->key();
    return {k.data(), k.size()};
  }
  std::string_view value() const override {
    auto v = it_->value();
    return {v.data(), v.size()};
  }
  absl::Status status() const override { return FromRocks(it_->status(), "iterator"); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

struct RocksKvStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ~Impl() {
    for (auto* h : handles) {
      if (db) db->DestroyColumnFamilyHandle(h);
    }
    if (db) db->Close();
  }
};

RocksKvStore::RocksKvStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksKvStore::~RocksKvStore() = default;

absl::StatusOr<std::unique_ptr<RocksKvStore>> RocksKvStore::Open(const std::string& dir, const RocksOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError("creating data directory " + dir + ": " + ec.message());
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.enable_pipelined_write = true;
  db_options.max_total_wal_size = 512 << 20;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  // Filters and indexes stay resident with their table readers: every
  // ingested event looks up its messageId, and a filter block evicted from
  // the block cache costs a disk read and a checksum of the whole filter.
  table.cache_index_and_filter_blocks = false;

  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_bytes;
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  // Every ingested event looks up its messageId, nearly always one not
  // stored yet: a whole-key Bloom filter in the memtable answers most of
  // those misses without searching it (about 10 bits per entry).
  rocksdb::ColumnFamilyOptions message_ids = cf;
  message_ids.memtable_whole_key_filtering = true;
  message_ids.memtable_prefix_bloom_size_ratio = 0.02;

  // Keys that arrive in order (event and quarantine numbers) are inserted
  // next to the last one instead of searched for from the top of the
  // memtable. (A hint per person for the timeline costs more in its hash
  // map than it saves.)
  rocksdb::ColumnFamilyOptions sequential = cf;
  sequential.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < static_cast<int>(Column::kCount); ++i) {
    const auto c = static_cast<Column>(i);
    switch (c) {
      case Column::kMessageIds:
        descriptors.emplace_back(ColumnName(c), message_ids);
        break;
      case Column::kEvents:
      case Column::kQuarantine:
        descriptors.emplace_back(ColumnName(c), sequential);
        break;
      default:
        descriptors.emplace_back(ColumnName(c), cf);
    }
  }
  auto impl = std::make_unique<Impl>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, descriptors, &impl->handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening store in " + dir);
  impl->db.reset(raw);
  return std::unique_ptr<RocksKvStore>(new RocksKvStore(std::move(impl)));
}

absl::Status RocksKvStore::Write(const WriteBatch& batch, bool sync) {
  // Room for the operations' bytes and their few bytes of framing each.
  rocksdb::WriteBatch wb(batch.bytes() + 16 * batch.size() + 64);
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    auto* h = impl_->handles[static_cast<int>(op.column)];
    rocksdb::Status s = op.type == WriteBatch::OpType::kPut ? wb.Put(h, op.key, op.value) : wb.Delete(h, op.key);
    if (!s.ok()) return FromRocks(s, "building write batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(impl_->db->Write(wo, &wb), "write");
}

absl::StatusOr<std::string> RocksKvStore::Get(Column c, std::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->handles[static_cast<int>(c)],
                                     rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError("key not found");
  if (!s.ok()) return FromRocks(s, "get");
  return value;
}

std::unique_ptr<Iterator> RocksKvStore::NewIterator(Column c) const {
  return std::make_unique<RocksIterator>(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->handles[static_cast<int>(c)]));
}

uint64_t RocksKvStore::ApproximateSizeBytes() const {
  uint64_t total = 0;
  for (auto* h : impl_->handles) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
  }
  return total;
}

}  // namespace facet::store
