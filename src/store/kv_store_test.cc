#include <filesystem>

#include "gtest/gtest.h"
#include "store/key_codec.h"
#include "store/mem_kv_store.h"
#include "store/rocks_kv_store.h"

namespace facet::store {
namespace {

// Runs the same contract against the fake and the real store.
class KvStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      dir_ = std::filesystem::temp_directory_path() / ("facet_kv_test_" + std::to_string(::getpid()));
      std::filesystem::remove_all(dir_);
      auto s = RocksKvStore::Open(dir_.string());
      ASSERT_TRUE(s.ok()) << s.status();
      kv_ = std::move(*s);
    } else {
      kv_ = std::make_unique<MemKvStore>();
    }
  }
  void TearDown() override {
    kv_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<KvStore> kv_;
};

TEST_P(KvStoreTest, PutGetDelete) {
  WriteBatch b;
  b.Put(Column::kEvents, "a", "1");
  b.Put(Column::kPersons, "a", "2");
  ASSERT_TRUE(kv_->Write(b, true).ok());
  EXPECT_EQ(*kv_->Get(Column::kEvents, "a"), "1");
  EXPECT_EQ(*kv_->Get(Column::kPersons, "a"), "2");
  EXPECT_EQ(kv_->Get(Column::kTimeline, "a").status().code(), absl::StatusCode::kNotFound);
  WriteBatch d;
  d.Delete(Column::kEvents, "a");
  ASSERT_TRUE(kv_->Write(d, false).ok());
  EXPECT_EQ(kv_->Get(Column::kEvents, "a").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(KvStoreTest, IteratesInBigEndianOrder) {
  WriteBatch b;
  for (uint64_t v : {300u, 2u, 70000u, 1u}) b.Put(Column::kEvents, Fixed64Key(v), "");
  ASSERT_TRUE(kv_->Write(b, true).ok());
  auto it = kv_->NewIterator(Column::kEvents);
  std::vector<uint64_t> seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) seen.push_back(DecodeFixed64BE(it->key()));
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 300, 70000}));
  it->SeekForPrev(Fixed64Key(299));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(DecodeFixed64BE(it->key()), 2u);
  it->SeekToLast();
  EXPECT_EQ(DecodeFixed64BE(it->key()), 70000u);
}

TEST(KeyCodecTest, OrderedInt64SortsNegativesFirst) {
  std::string a, b;
  PutInt64Ordered(&a, -5);
  PutInt64Ordered(&b, 3);
  EXPECT_LT(a, b);
  EXPECT_EQ(DecodeInt64Ordered(a), -5);
}

TEST(RocksKvStoreTest, ReopenKeepsSyncedWrites) {
  auto dir = std::filesystem::temp_directory_path() / ("facet_kv_reopen_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto kv = RocksKvStore::Open(dir.string());
    ASSERT_TRUE(kv.ok());
    WriteBatch b;
    b.Put(Column::kMeta, "k", "v");
    ASSERT_TRUE((*kv)->Write(b, true).ok());
  }
  auto kv = RocksKvStore::Open(dir.string());
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(*(*kv)->Get(Column::kMeta, "k"), "v");
  kv->reset();
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(MemAndRocks, KvStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Rocks" : "Mem"; });

}  // namespace
}  // namespace facet::store
