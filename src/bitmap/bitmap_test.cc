#include "bitmap/bitmap.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace facet::bitmap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// An independent, bit-at-a-time CRC-32C for crafting snapshots.
uint32_t ReferenceCrc32c(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
  }
  return ~crc;
}

void PutLittleEndian(uint64_t v, int bytes, std::string& out) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// A snapshot around `payload` with a correct header and checksum.
std::string Frame(std::string_view payload) {
  std::string out = "FBM1";
  PutLittleEndian(1, 4, out);
  PutLittleEndian(payload.size(), 8, out);
  out.append(payload);
  PutLittleEndian(ReferenceCrc32c(out), 4, out);
  return out;
}

std::string Payload(std::string_view snapshot) { return std::string(snapshot.substr(16, snapshot.size() - 20)); }

Bitmap RandomBitmap(uint32_t seed, uint32_t limit, double density) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution keep(density);
  Bitmap b;
  for (uint32_t i = 0; i < limit; ++i) {
    if (keep(rng)) b.Add(i);
  }
  return b;
}

// Sparse arrays, dense bitsets, runs and ids near the top of the id space.
std::vector<Bitmap> AssortedBitmaps() {
  std::vector<Bitmap> out;
  out.push_back(Bitmap());
  out.push_back(Bitmap::Of({0}));
  out.push_back(Bitmap::Of({1, 2, 3, 70000, 4000000000u, kNoPerson - 1}));
  out.push_back(RandomBitmap(1, 300000, 0.01));
  out.push_back(RandomBitmap(2, 300000, 0.5));
  Bitmap runs = Bitmap::Range(10, 200000);
  runs.AddRange(1u << 30, (1u << 30) + 65536);
  runs.Optimize();
  out.push_back(runs);
  Bitmap mixed = RandomBitmap(3, 200000, 0.2);
  mixed.AddRange(500000, 700000);
  mixed.Optimize();
  out.push_back(mixed);
  return out;
}

TEST(BitmapTest, DefaultIsEmpty) {
  Bitmap b;
  EXPECT_TRUE(b.Empty());
  EXPECT_EQ(b.Cardinality(), 0u);
  EXPECT_EQ(b.Minimum(), kNoPerson);
  EXPECT_EQ(b.Maximum(), kNoPerson);
  EXPECT_FALSE(b.Contains(0));
  EXPECT_THAT(b.ToVector(), IsEmpty());
  EXPECT_EQ(b, Bitmap::Of({}));
  EXPECT_EQ(b.MemoryBytes(), 0u);
}

TEST(BitmapTest, OfAndContains) {
  Bitmap b = Bitmap::Of({5, 1, 9, 1});
  EXPECT_EQ(b.Cardinality(), 3u);
  EXPECT_TRUE(b.Contains(1));
  EXPECT_TRUE(b.Contains(5));
  EXPECT_FALSE(b.Contains(2));
  EXPECT_THAT(b.ToVector(), ElementsAre(1, 5, 9));
  std::vector<PersonId> ids = {100000, 3, 7};
  EXPECT_THAT(Bitmap::Of(std::span<const PersonId>(ids)).ToVector(), ElementsAre(3, 7, 100000));
}

TEST(BitmapTest, RangeIsHalfOpen) {
  Bitmap b = Bitmap::Range(10, 20);
  EXPECT_EQ(b.Cardinality(), 10u);
  EXPECT_EQ(b.Minimum(), 10u);
  EXPECT_EQ(b.Maximum(), 19u);
  EXPECT_TRUE(Bitmap::Range(7, 7).Empty());
  EXPECT_TRUE(Bitmap::Range(9, 3).Empty());
  Bitmap top = Bitmap::Range(kNoPerson - 3, kNoPerson);
  EXPECT_THAT(top.ToVector(), ElementsAre(kNoPerson - 3, kNoPerson - 2, kNoPerson - 1));
}

TEST(BitmapTest, SliceWalksTheMembersByRank) {
  Bitmap b = Bitmap::Of({1, 5, 9, 70000, 200000});
  b.AddRange(300000, 400000);  // a run container
  EXPECT_THAT(b.Slice(0, 2), ElementsAre(1, 5));
  EXPECT_THAT(b.Slice(2, 3), ElementsAre(9, 70000, 200000));
  EXPECT_THAT(b.Slice(5, 2), ElementsAre(300000, 300001));
  EXPECT_THAT(b.Slice(b.Cardinality() - 1, 10), ElementsAre(399999));
  EXPECT_THAT(b.Slice(b.Cardinality(), 10), IsEmpty());
  EXPECT_THAT(b.Slice(0, 0), IsEmpty());
  EXPECT_THAT(Bitmap().Slice(0, 10), IsEmpty());
  std::vector<PersonId> walked;
  for (uint64_t offset = 0; offset < b.Cardinality(); offset += 4096) {
    std::vector<PersonId> page = b.Slice(offset, 4096);
    walked.insert(walked.end(), page.begin(), page.end());
  }
  EXPECT_EQ(walked, b.ToVector());
}

TEST(BitmapTest, AddRangeAndAddMany) {
  Bitmap b;
  b.AddRange(65530, 65540);
  b.AddRange(5, 5);
  std::vector<PersonId> more = {1, 2, 65535};
  b.AddMany(more);
  b.AddMany({});
  EXPECT_EQ(b.Cardinality(), 12u);
  EXPECT_TRUE(b.Contains(65539));
  EXPECT_FALSE(b.Contains(65540));
}

TEST(BitmapTest, AddRemoveChecked) {
  Bitmap b;
  EXPECT_TRUE(b.AddChecked(4));
  EXPECT_FALSE(b.AddChecked(4));
  b.Add(8);
  EXPECT_TRUE(b.RemoveChecked(4));
  EXPECT_FALSE(b.RemoveChecked(4));
  b.Remove(8);
  b.Remove(12345);
  EXPECT_TRUE(b.Empty());
  Bitmap never_used;
  EXPECT_FALSE(never_used.RemoveChecked(1));
  never_used.Remove(1);
  EXPECT_TRUE(never_used.Empty());
}

TEST(BitmapTest, Clear) {
  Bitmap b = Bitmap::Range(0, 100000);
  b.Clear();
  EXPECT_TRUE(b.Empty());
  b.Add(3);
  EXPECT_THAT(b.ToVector(), ElementsAre(3));
}

TEST(BitmapTest, MinimumAndMaximum) {
  Bitmap b = Bitmap::Of({70000, 12, 4000000000u});
  EXPECT_EQ(b.Minimum(), 12u);
  EXPECT_EQ(b.Maximum(), 4000000000u);
  Bitmap zero = Bitmap::Of({0});
  EXPECT_EQ(zero.Minimum(), 0u);
  EXPECT_EQ(zero.Maximum(), 0u);
}

TEST(BitmapTest, BinaryOperators) {
  const Bitmap a = Bitmap::Of({1, 2, 3, 100000});
  const Bitmap b = Bitmap::Of({2, 3, 4, 200000});
  EXPECT_THAT((a & b).ToVector(), ElementsAre(2, 3));
  EXPECT_THAT((a | b).ToVector(), ElementsAre(1, 2, 3, 4, 100000, 200000));
  EXPECT_THAT((a - b).ToVector(), ElementsAre(1, 100000));
  EXPECT_THAT((a ^ b).ToVector(), ElementsAre(1, 4, 100000, 200000));
  EXPECT_TRUE((a & Bitmap()).Empty());
  EXPECT_EQ(a | Bitmap(), a);
  EXPECT_EQ(a - Bitmap(), a);
  EXPECT_EQ(Bitmap() ^ a, a);
}

TEST(BitmapTest, CompoundOperators) {
  const Bitmap a = Bitmap::Of({1, 2, 3, 100000});
  const Bitmap b = Bitmap::Of({2, 3, 4, 200000});
  Bitmap x = a;
  x &= b;
  EXPECT_EQ(x, a & b);
  x = a;
  x |= b;
  EXPECT_EQ(x, a | b);
  x = a;
  x -= b;
  EXPECT_EQ(x, a - b);
  x = a;
  x ^= b;
  EXPECT_EQ(x, a ^ b);
  Bitmap empty;
  empty |= a;
  EXPECT_EQ(empty, a);
  Bitmap empty2;
  empty2 &= a;
  empty2 -= a;
  EXPECT_TRUE(empty2.Empty());
  empty2 ^= a;
  EXPECT_EQ(empty2, a);
}

TEST(BitmapTest, CompoundOperatorsWithItself) {
  const Bitmap a = Bitmap::Of({1, 2, 100000});
  Bitmap x = a;
  x &= x;
  EXPECT_EQ(x, a);
  x |= x;
  EXPECT_EQ(x, a);
  x -= x;
  EXPECT_TRUE(x.Empty());
  x = a;
  x ^= x;
  EXPECT_TRUE(x.Empty());
}

TEST(BitmapTest, Equality) {
  Bitmap dense = Bitmap::Range(0, 10000);
  Bitmap runs = dense;
  runs.Optimize();
  EXPECT_EQ(dense, runs);
  runs.Remove(5);
  EXPECT_FALSE(dense == runs);
}

TEST(BitmapTest, Cardinalities) {
  const Bitmap a = Bitmap::Range(0, 100);
  const Bitmap b = Bitmap::Range(50, 250);
  EXPECT_EQ(a.AndCardinality(b), 50u);
  EXPECT_EQ(a.OrCardinality(b), 250u);
  EXPECT_EQ(a.AndNotCardinality(b), 50u);
  EXPECT_EQ(b.AndNotCardinality(a), 150u);
  EXPECT_TRUE(a.Intersects(b));
  EXPECT_FALSE(a.Intersects(Bitmap::Range(100, 200)));
  EXPECT_FALSE(a.Intersects(Bitmap()));
}

TEST(BitmapTest, UnionOfMany) {
  const Bitmap a = Bitmap::Of({1});
  const Bitmap b = Bitmap::Of({70000});
  const Bitmap c = Bitmap::Range(5, 8);
  const Bitmap empty;
  std::vector<const Bitmap*> all = {&a, &empty, &b, &c};
  EXPECT_THAT(Bitmap::Union(all).ToVector(), ElementsAre(1, 5, 6, 7, 70000));
  EXPECT_TRUE(Bitmap::Union({}).Empty());
  std::vector<const Bitmap*> one = {&b};
  EXPECT_EQ(Bitmap::Union(one), b);
}

TEST(BitmapTest, ForEachVisitsInOrderAndStops) {
  const Bitmap b = RandomBitmap(7, 200000, 0.1);
  std::vector<PersonId> seen;
  b.ForEach([&](PersonId p) {
    seen.push_back(p);
    return true;
  });
  EXPECT_EQ(seen, b.ToVector());
  std::vector<PersonId> first;
  b.ForEach([&](PersonId p) {
    first.push_back(p);
    return first.size() < 300;
  });
  ASSERT_EQ(first.size(), 300u);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), seen.begin()));
  int calls = 0;
  Bitmap().ForEach([&](PersonId) { return ++calls > 0; });
  EXPECT_EQ(calls, 0);
}

TEST(BitmapTest, ToVectorLimit) {
  const Bitmap b = Bitmap::Of({4, 8, 15, 16, 23, 42});
  EXPECT_THAT(b.ToVector(3), ElementsAre(4, 8, 15));
  EXPECT_THAT(b.ToVector(0), IsEmpty());
  EXPECT_EQ(b.ToVector(100).size(), 6u);
}

TEST(BitmapTest, OptimizeKeepsMembersAndShrinks) {
  Bitmap b;
  for (PersonId p = 0; p < 1000000; ++p) b.Add(p);
  const size_t before = b.MemoryBytes();
  const Bitmap copy = b;
  b.Optimize();
  EXPECT_EQ(b, copy);
  EXPECT_LT(b.MemoryBytes(), before / 10);
  EXPECT_GT(b.MemoryBytes(), 0u);
}

TEST(BitmapTest, CopyAndMove) {
  const Bitmap a = Bitmap::Of({1, 2, 3});
  Bitmap copy(a);
  copy.Add(4);
  EXPECT_EQ(a.Cardinality(), 3u);
  Bitmap assigned;
  assigned = a;
  EXPECT_EQ(assigned, a);
  assigned = Bitmap();
  EXPECT_TRUE(assigned.Empty());
  assigned = a;
  const Bitmap never_used;
  assigned = never_used;
  EXPECT_TRUE(assigned.Empty());
  assigned = a;
  assigned = assigned;  // self-assignment keeps the contents
  EXPECT_EQ(assigned, a);

  Bitmap moved(std::move(copy));
  EXPECT_EQ(moved.Cardinality(), 4u);
  EXPECT_TRUE(copy.Empty());  // NOLINT(bugprone-use-after-move): moved-from is empty and usable
  copy.Add(9);
  EXPECT_THAT(copy.ToVector(), ElementsAre(9));
  Bitmap target = Bitmap::Of({7});
  target = std::move(moved);
  EXPECT_EQ(target.Cardinality(), 4u);
  EXPECT_TRUE(moved.Empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved | a, a);
}

// ---- Codec ----------------------------------------------------------------

TEST(BitmapCodecTest, RoundTrip) {
  for (const Bitmap& b : AssortedBitmaps()) {
    absl::StatusOr<Bitmap> decoded = Bitmap::Decode(b.Encode());
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, b);
    EXPECT_EQ(decoded->Cardinality(), b.Cardinality());
  }
}

TEST(BitmapCodecTest, EncodingIsStable) {
  const std::string golden(
      "FBM1\x01\x00\x00\x00\x16\x00\x00\x00\x00\x00\x00\x00"
      "\x3a\x30\x00\x00\x01\x00\x00\x00\x00\x00\x02\x00\x10\x00\x00\x00\x01\x00\x02\x00\x03\x00"
      "\x7a\x13\x88\x16",
      42);
  EXPECT_EQ(Bitmap::Of({1, 2, 3}).Encode(), golden);
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(golden);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->ToVector(), ElementsAre(1, 2, 3));
}

TEST(BitmapCodecTest, ChecksumIsCrc32c) {
  for (const Bitmap& b : AssortedBitmaps()) {
    const std::string bytes = b.Encode();
    EXPECT_EQ(Frame(Payload(bytes)), bytes);
  }
}

TEST(BitmapCodecTest, EveryFlippedByteIsDataLoss) {
  Bitmap b = Bitmap::Of({1, 5, 70000});
  b.AddRange(200000, 200100);
  b.Optimize();
  const std::string bytes = b.Encode();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ (1 << bit));
      absl::StatusOr<Bitmap> decoded = Bitmap::Decode(corrupt);
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(BitmapCodecTest, FlippedPayloadByteIsChecksumMismatch) {
  std::string bytes = RandomBitmap(9, 100000, 0.3).Encode();
  bytes[bytes.size() / 2] ^= 0x10;
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("checksum mismatch"));
}

TEST(BitmapCodecTest, EveryTruncationIsDataLoss) {
  const std::string bytes = Bitmap::Of({1, 2, 3, 100000}).Encode();
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<Bitmap> decoded = Bitmap::Decode(std::string_view(bytes).substr(0, n));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << n;
    EXPECT_THAT(decoded.status().message(), HasSubstr("truncated")) << n;
  }
}

TEST(BitmapCodecTest, WrongMagicIsDataLoss) {
  std::string bytes = Bitmap::Of({1}).Encode();
  bytes[3] = '2';
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("magic"));
}

TEST(BitmapCodecTest, UnknownVersionIsDataLoss) {
  std::string bytes = Bitmap::Of({1}).Encode();
  bytes[4] = 2;
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("version"));
}

TEST(BitmapCodecTest, HugeDeclaredSizeIsDataLoss) {
  std::string bytes = Bitmap::Of({1, 2}).Encode();
  for (int i = 8; i < 16; ++i) bytes[i] = '\xff';
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("truncated"));
}

TEST(BitmapCodecTest, TrailingBytesAreDataLoss) {
  std::string bytes = Bitmap::Of({1, 2}).Encode();
  bytes.push_back('\0');
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("beyond its declared payload"));
}

TEST(BitmapCodecTest, PayloadTheDeserializerRejectsIsDataLoss) {
  std::string payload = Payload(Bitmap::Of({1, 2, 3}).Encode());
  payload[0] = 'x';  // not a roaring cookie
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(Frame(payload));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("rejected"));

  const std::string cut = Payload(Bitmap::Of({1, 2, 3}).Encode()).substr(0, 18);
  decoded = Bitmap::Decode(Frame(cut));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("rejected"));
}

TEST(BitmapCodecTest, PayloadLongerThanItsBitmapIsDataLoss) {
  const std::string payload = Payload(Bitmap::Of({1, 2, 3}).Encode()) + std::string("\0\0", 2);
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(Frame(payload));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("takes 22"));
}

TEST(BitmapCodecTest, IllFormedContainersAreDataLoss) {
  // Array values out of order: {1, 3, 2}.
  std::string payload = Payload(Bitmap::Of({1, 2, 3}).Encode());
  payload[18] = 3;
  payload[20] = 2;
  absl::StatusOr<Bitmap> decoded = Bitmap::Decode(Frame(payload));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("array values out of order"));

  // Chunk keys out of order: two containers, keys 1 then 0.
  payload = Payload(Bitmap::Of({1, 65537}).Encode());
  ASSERT_EQ(payload[8], 0);
  ASSERT_EQ(payload[12], 1);
  payload[8] = 1;
  payload[12] = 0;
  decoded = Bitmap::Decode(Frame(payload));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("keys out of order"));

  // A bitset whose declared cardinality disagrees with its bits.
  payload = Payload(RandomBitmap(4, 65536, 0.5).Encode());
  payload[28] ^= 1;  // flips a bit of the first word
  decoded = Bitmap::Decode(Frame(payload));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("bitset cardinality"));

  // A run reaching past the end of its chunk.
  Bitmap runs = Bitmap::Range(65000, 65100);
  runs.Optimize();
  payload = Payload(runs.Encode());
  // The run {start 65000, length 99}: move its start to 65500.
  const size_t start = payload.find("\xe8\xfd\x63\x00");
  ASSERT_NE(start, std::string::npos);
  payload[start] = static_cast<char>(65500 & 0xFF);
  payload[start + 1] = static_cast<char>(65500 >> 8);
  decoded = Bitmap::Decode(Frame(payload));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("run past the end"));
}

TEST(BitmapTest, DensifyKeepsMembersAndCounts) {
  std::vector<PersonId> ids;
  for (PersonId p = 0; p < 300000; p += 37) ids.push_back(p);   // ~1,770 per chunk: arrays
  for (PersonId p = 400000; p < 400100; ++p) ids.push_back(p);  // a sparse chunk stays an array
  Bitmap b = Bitmap::Of(ids);
  Bitmap before = b;
  size_t bytes = b.MemoryBytes();
  b.Densify();
  EXPECT_TRUE(b == before);
  EXPECT_EQ(b.Cardinality(), ids.size());
  EXPECT_EQ(b.ToVector(), ids);
  EXPECT_EQ(b.AndCardinality(before), ids.size());
  EXPECT_GT(b.MemoryBytes(), bytes / 2);
  b.Add(5);
  b.Remove(37);
  EXPECT_TRUE(b.Contains(5));
  EXPECT_FALSE(b.Contains(37));
  absl::StatusOr<Bitmap> back = Bitmap::Decode(b.Encode());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == b);
}

}  // namespace
}  // namespace facet::bitmap
