// MemKvStore: an in-memory KvStore for tests (the fake, as LevelDB's memenv).
#pragma once

#include <map>
#include <mutex>

#include "store/kv_store.h"

namespace facet::store {

// Thread-safe. Iterators see a copy of the column taken when they are made.
class MemKvStore final : public KvStore {
 public:
  absl::Status Write(const WriteBatch& batch, bool sync) override;
  absl::StatusOr<std::string> Get(Column c, std::string_view key) const override;
  std::unique_ptr<Iterator> NewIterator(Column c) const override;
  uint64_t ApproximateSizeBytes() const override;

  // Makes every following Write() fail with `s` (OK to heal).
  void FailWritesForTest(absl::Status s);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> columns_[static_cast<int>(Column::kCount)];
  absl::Status write_failure_;
};

}  // namespace facet::store
