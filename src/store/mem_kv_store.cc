#include "store/mem_kv_store.h"

#include <memory>

namespace facet::store {

const char* ColumnName(Column c) {
  switch (c) {
    case Column::kMeta:
      return "default";
    case Column::kEvents:
      return "events";
    case Column::kMessageIds:
      return "message_ids";
    case Column::kTimeline:
      return "timeline";
    case Column::kIdentities:
      return "identities";
    case Column::kPersons:
      return "persons";
    case Column::kMerges:
      return "merges";
    case Column::kProfiles:
      return "profiles";
    case Column::kQuarantine:
      return "quarantine";
    case Column::kCatalog:
      return "catalog";
    case Column::kChanges:
      return "changes";
    case Column::kCount:
      break;
  }
  return "?";
}

namespace {

using Map = std::map<std::string, std::string, std::less<>>;

class MemIterator final : public Iterator {
 public:
  explicit MemIterator(Map snapshot) : map_(std::move(snapshot)), it_(map_.end()) {}
  bool Valid() const override { return it_ != map_.end(); }
  void Seek(std::string_view target) override { it_ = map_.lower_bound(target); }
  void SeekForPrev(std::string_view target) override {
    it_ = map_.upper_bound(target);
    if (it_ == map_.begin()) {
      it_ = map_.end();
    } else {
      --it_;
    }
  }
  void SeekToFirst() override { it_ = map_.begin(); }
  void SeekToLast() override { it_ = map_.empty() ? map_.end() : std::prev(map_.end()); }
  void Next() override { ++it_; }
  void Prev() override { it_ = it_ == map_.begin() ? map_.end() : std::prev(it_); }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  Map map_;
  Map::const_iterator it_;
};

}  // namespace

absl::Status MemKvStore::Write(const WriteBatch& batch, bool sync) {
  std::lock_guard lock(mu_);
  if (!write_failure_.ok()) return write_failure_;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    auto& col = columns_[static_cast<int>(op.column)];
    if (op.type == WriteBatch::OpType::kPut) {
      col.insert_or_assign(std::string(op.key), std::string(op.value));
    } else {
      auto it = col.find(op.key);
      if (it != col.end()) col.erase(it);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MemKvStore::Get(Column c, std::string_view key) const {
  std::lock_guard lock(mu_);
  const auto& col = columns_[static_cast<int>(c)];
  auto it = col.find(key);
  if (it == col.end()) return absl::NotFoundError("key not found");
  return it->second;
}

std::unique_ptr<Iterator> MemKvStore::NewIterator(Column c) const {
  std::lock_guard lock(mu_);
  return std::make_unique<MemIterator>(columns_[static_cast<int>(c)]);
}

uint64_t MemKvStore::ApproximateSizeBytes() const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& col : columns_)
    for (const auto& [k, v] : col) n += k.size() + v.size();
  return n;
}

void MemKvStore::FailWritesForTest(absl::Status s) {
  std::lock_guard lock(mu_);
  write_failure_ = std::move(s);
}

}  // namespace facet::store
