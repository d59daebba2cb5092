#include "bitmap/internal/word_kernels.h"

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace facet::bitmap::internal {
namespace {

constexpr WordOp kOps[] = {WordOp::kAnd, WordOp::kOr, WordOp::kAndNot, WordOp::kNotAnd, WordOp::kFirst};

uint64_t Apply(WordOp op, uint64_t a, uint64_t b) {
  switch (op) {
    case WordOp::kAnd:
      return a & b;
    case WordOp::kOr:
      return a | b;
    case WordOp::kAndNot:
      return a & ~b;
    case WordOp::kNotAnd:
      return ~a & b;
    case WordOp::kFirst:
      return a;
  }
  return 0;
}

std::vector<uint64_t> RandomWords(std::mt19937_64& rng, size_t n, int density_shift) {
  std::vector<uint64_t> w(n);
  for (uint64_t& x : w) {
    x = rng();
    for (int i = 0; i < density_shift; ++i) x &= rng();  // each & halves the density
  }
  return w;
}

std::vector<bool> Paths() {
  std::vector<bool> paths = {false};
  if (CpuHasAvx2()) paths.push_back(true);
  return paths;
}

TEST(WordKernelsTest, StepsMatchScalarOperators) {
  std::mt19937_64 rng(1);
  const std::vector<uint64_t> a = RandomWords(rng, kBlockWords, 0);
  const std::vector<uint64_t> b = RandomWords(rng, kBlockWords, 1);
  for (bool simd : Paths()) {
    for (WordOp op : {WordOp::kAnd, WordOp::kOr, WordOp::kAndNot, WordOp::kNotAnd}) {
      std::vector<uint64_t> dst(kBlockWords);
      SelectStep(simd, op)(dst.data(), a.data(), b.data());
      for (int i = 0; i < kBlockWords; ++i) {
        ASSERT_EQ(dst[i], Apply(op, a[i], b[i])) << "simd " << simd << " op " << static_cast<int>(op);
      }
      std::vector<uint64_t> in_place = a;  // dst aliasing a
      SelectStep(simd, op)(in_place.data(), in_place.data(), b.data());
      EXPECT_EQ(in_place, dst);
    }
  }
}

TEST(WordKernelsTest, FinishesMatchScalarOperators) {
  std::mt19937_64 rng(2);
  for (int density : {0, 2, 6}) {
    const std::vector<uint64_t> a = RandomWords(rng, kBlockWords, density);
    const std::vector<uint64_t> b = RandomWords(rng, kBlockWords, 1);
    const std::vector<uint64_t> u = RandomWords(rng, kBlockWords, 0);
    for (bool simd : Paths()) {
      for (WordOp op : kOps) {
        for (int flags = 0; flags < 8; ++flags) {
          const bool neg = flags & 1;
          const bool mask = flags & 2;
          const bool store = flags & 4;
          SCOPED_TRACE("simd " + std::to_string(simd) + " op " + std::to_string(static_cast<int>(op)) + " flags " +
                       std::to_string(flags));
          std::vector<uint64_t> out(kBlockWords, 0xDEADBEEF);
          const uint64_t count =
              SelectFinish(simd, op, neg, mask, store)(a.data(), op == WordOp::kFirst ? nullptr : b.data(),
                                                       mask ? u.data() : nullptr, store ? out.data() : nullptr);
          uint64_t expected_count = 0;
          for (int i = 0; i < kBlockWords; ++i) {
            uint64_t r = Apply(op, a[i], b[i]);
            if (neg) r = ~r;
            if (mask) r &= u[i];
            expected_count += std::popcount(r);
            ASSERT_EQ(out[i], store ? r : 0xDEADBEEF) << i;
          }
          EXPECT_EQ(count, expected_count);
        }
      }
    }
  }
}

TEST(WordKernelsTest, FinishCountsFullAndEmptyBlocks) {
  const std::vector<uint64_t> ones(kBlockWords, ~uint64_t{0});
  for (bool simd : Paths()) {
    EXPECT_EQ(SelectFinish(simd, WordOp::kFirst, false, false, false)(ones.data(), nullptr, nullptr, nullptr),
              kBlockBits);
    EXPECT_EQ(SelectFinish(simd, WordOp::kFirst, true, false, false)(ones.data(), nullptr, nullptr, nullptr), 0u);
  }
}

TEST(WordKernelsTest, ExtractBitsListsSetBitsInOrder) {
  std::mt19937_64 rng(3);
  // From a few bits (the sparse loop) to a word-dense chunk with words of
  // more than four bits (the unrolled loop and its tail).
  for (int density : {10, 8, 5, 4, 2, 0}) {
    std::vector<uint64_t> words = RandomWords(rng, kChunkWords, density);
    words[kChunkWords - 1] |= uint64_t{1} << 63;
    std::vector<uint16_t> expected;
    for (int i = 0; i < kChunkWords; ++i) {
      for (int bit = 0; bit < 64; ++bit) {
        if (words[i] >> bit & 1) expected.push_back(static_cast<uint16_t>(i * 64 + bit));
      }
    }
    for (bool simd : Paths()) {
      std::vector<uint16_t> out(expected.size() + kExtractSlack, 0);
      ExtractBits(simd, words.data(), expected.size(), out.data());
      out.resize(expected.size());
      EXPECT_EQ(out, expected) << "density " << density << " simd " << simd;
    }
  }
}

}  // namespace
}  // namespace facet::bitmap::internal
