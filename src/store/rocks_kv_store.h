// RocksKvStore: the embedded durable KvStore, one RocksDB column family per
// store::Column, all in one data directory.
#pragma once

#include <memory>
#include <string>

#include "store/kv_store.h"

namespace facet::store {

struct RocksOptions {
  // Block cache for reads, in bytes.
  size_t block_cache_bytes = 256 << 20;
  // Write buffer per column family, in bytes.
  size_t write_buffer_bytes = 64 << 20;
};

class RocksKvStore final : public KvStore {
 public:
  // Opens (creating if missing) the store in `dir`.
  static absl::StatusOr<std::unique_ptr<RocksKvStore>> Open(const std::string& dir, const RocksOptions& options = {});
  ~RocksKvStore() override;

  absl::Status Write(const WriteBatch& batch, bool sync) override;
  absl::StatusOr<std::string> Get(Column c, std::string_view key) const override;
  std::unique_ptr<Iterator> NewIterator(Column c) const override;
  uint64_t ApproximateSizeBytes() const override;

 private:
  struct Impl;
  explicit RocksKvStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace facet::store
