#include "bitmap/internal/word_kernels.h"

#include <bit>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FACET_TAGS_AVX2_KERNELS 1
#define FACET_TAGS_TARGET_AVX2 __attribute__((target("avx2,popcnt")))
#endif

namespace facet::bitmap::internal {
namespace {

// ---- Portable kernels ---------------------------------------------------

template <WordOp K>
inline uint64_t Combine(uint64_t a, uint64_t b) {
  if constexpr (K == WordOp::kAnd) return a & b;
  if constexpr (K == WordOp::kOr) return a | b;
  if constexpr (K == WordOp::kAndNot) return a & ~b;
  if constexpr (K == WordOp::kNotAnd) return ~a & b;
  return a;
}

template <WordOp K>
void StepPortable(uint64_t* dst, const uint64_t* a, const uint64_t* b) {
  for (int i = 0; i < kBlockWords; ++i) dst[i] = Combine<K>(a[i], b[i]);
}

template <WordOp K, bool kNeg, bool kMask, bool kStore>
uint64_t FinishPortable(const uint64_t* a, const uint64_t* b, const uint64_t* u, uint64_t* out) {
  if constexpr (K == WordOp::kFirst) b = a;
  uint64_t count = 0;
  for (int i = 0; i < kBlockWords; ++i) {
    uint64_t r = Combine<K>(a[i], b[i]);
    if constexpr (kNeg) r = ~r;
    if constexpr (kMask) r &= u[i];
    if constexpr (kStore) out[i] = r;
    count += static_cast<uint64_t>(std::popcount(r));
  }
  return count;
}

// Writes the set bits of a chunk. Sparse chunks skip zero words; denser ones
// store four values per word unconditionally, which keeps the loop free of
// data-dependent branches while words hold a few bits each.
__attribute__((always_inline)) inline void ExtractBitsImpl(const uint64_t* words, size_t cardinality, uint16_t* out) {
  if (cardinality < kChunkWords / 4) {
    for (int i = 0; i < kChunkWords; ++i) {
      for (uint64_t w = words[i]; w != 0; w &= w - 1) {
        *out++ = static_cast<uint16_t>(i * 64 + std::countr_zero(w));
      }
    }
    return;
  }
  for (int i = 0; i < kChunkWords; ++i) {
    uint64_t w = words[i];
    const int n = std::popcount(w);
    const auto base = static_cast<uint16_t>(i * 64);
    for (size_t j = 0; j < kExtractSlack; ++j) {
      out[j] = static_cast<uint16_t>(base + std::countr_zero(w));
      w &= w - 1;
    }
    for (uint16_t* p = out + kExtractSlack; w != 0; w &= w - 1) {
      *p++ = static_cast<uint16_t>(base + std::countr_zero(w));
    }
    out += n;
  }
}

void ExtractBitsPortable(const uint64_t* words, size_t cardinality, uint16_t* out) {
  ExtractBitsImpl(words, cardinality, out);
}

// ---- AVX2 kernels -------------------------------------------------------

#ifdef FACET_TAGS_AVX2_KERNELS

template <WordOp K>
FACET_TAGS_TARGET_AVX2 inline __m256i CombineAvx2(__m256i a, __m256i b) {
  if constexpr (K == WordOp::kAnd) return _mm256_and_si256(a, b);
  if constexpr (K == WordOp::kOr) return _mm256_or_si256(a, b);
  if constexpr (K == WordOp::kAndNot) return _mm256_andnot_si256(b, a);
  if constexpr (K == WordOp::kNotAnd) return _mm256_andnot_si256(a, b);
  return a;
}

template <WordOp K>
FACET_TAGS_TARGET_AVX2 void StepAvx2(uint64_t* dst, const uint64_t* a, const uint64_t* b) {
  for (int i = 0; i < kBlockWords; i += 4) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), CombineAvx2<K>(va, vb));
  }
}

// Per-byte population counts by nibble lookup (Mula, Kurz and Lemire).
FACET_TAGS_TARGET_AVX2 inline __m256i PopcountBytes(__m256i v) {
  const __m256i lookup = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                          0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(v, low_nibbles);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lookup, lo), _mm256_shuffle_epi8(lookup, hi));
}

template <WordOp K, bool kNeg, bool kMask, bool kStore>
FACET_TAGS_TARGET_AVX2 uint64_t FinishAvx2(const uint64_t* a, const uint64_t* b, const uint64_t* u, uint64_t* out) {
  if constexpr (K == WordOp::kFirst) b = a;
  const __m256i zero = _mm256_setzero_si256();
  __m256i total = zero;
  // A byte counter gains at most 8 per vector, so 8 vectors cannot overflow it.
  for (int i = 0; i < kBlockWords; i += 32) {
    __m256i bytes = zero;
    for (int j = i; j < i + 32; j += 4) {
      const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + j));
      const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j));
      __m256i r = CombineAvx2<K>(va, vb);
      if constexpr (kMask) {
        const __m256i vu = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + j));
        r = kNeg ? _mm256_andnot_si256(r, vu) : _mm256_and_si256(r, vu);
      } else if constexpr (kNeg) {
        r = _mm256_xor_si256(r, _mm256_set1_epi64x(-1));
      }
      if constexpr (kStore) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), r);
      bytes = _mm256_add_epi8(bytes, PopcountBytes(r));
    }
    total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, zero));
  }
  return static_cast<uint64_t>(_mm256_extract_epi64(total, 0)) + static_cast<uint64_t>(_mm256_extract_epi64(total, 1)) +
         static_cast<uint64_t>(_mm256_extract_epi64(total, 2)) + static_cast<uint64_t>(_mm256_extract_epi64(total, 3));
}

__attribute__((target("avx2,bmi,popcnt"))) void ExtractBitsAvx2(const uint64_t* words, size_t cardinality,
                                                                uint16_t* out) {
  ExtractBitsImpl(words, cardinality, out);
}

#endif  // FACET_TAGS_AVX2_KERNELS

// ---- Selection ----------------------------------------------------------

template <bool kSimd, WordOp K>
StepFn StepFor() {
#ifdef FACET_TAGS_AVX2_KERNELS
  if constexpr (kSimd) return &StepAvx2<K>;
#endif
  return &StepPortable<K>;
}

template <bool kSimd, WordOp K, bool kNeg, bool kMask, bool kStore>
FinishFn FinishFor() {
#ifdef FACET_TAGS_AVX2_KERNELS
  if constexpr (kSimd) return &FinishAvx2<K, kNeg, kMask, kStore>;
#endif
  return &FinishPortable<K, kNeg, kMask, kStore>;
}

template <bool kSimd, WordOp K, bool kNeg>
FinishFn FinishFor(bool mask, bool store) {
  if (mask) return store ? FinishFor<kSimd, K, kNeg, true, true>() : FinishFor<kSimd, K, kNeg, true, false>();
  return store ? FinishFor<kSimd, K, kNeg, false, true>() : FinishFor<kSimd, K, kNeg, false, false>();
}

template <bool kSimd, WordOp K>
FinishFn FinishFor(bool neg, bool mask, bool store) {
  return neg ? FinishFor<kSimd, K, true>(mask, store) : FinishFor<kSimd, K, false>(mask, store);
}

template <bool kSimd>
StepFn StepFor(WordOp op) {
  switch (op) {
    case WordOp::kAnd:
      return StepFor<kSimd, WordOp::kAnd>();
    case WordOp::kOr:
      return StepFor<kSimd, WordOp::kOr>();
    case WordOp::kAndNot:
      return StepFor<kSimd, WordOp::kAndNot>();
    default:
      return StepFor<kSimd, WordOp::kNotAnd>();
  }
}

template <bool kSimd>
FinishFn FinishFor(WordOp op, bool neg, bool mask, bool store) {
  switch (op) {
    case WordOp::kAnd:
      return FinishFor<kSimd, WordOp::kAnd>(neg, mask, store);
    case WordOp::kOr:
      return FinishFor<kSimd, WordOp::kOr>(neg, mask, store);
    case WordOp::kAndNot:
      return FinishFor<kSimd, WordOp::kAndNot>(neg, mask, store);
    case WordOp::kNotAnd:
      return FinishFor<kSimd, WordOp::kNotAnd>(neg, mask, store);
    default:
      return FinishFor<kSimd, WordOp::kFirst>(neg, mask, store);
  }
}

}  // namespace

bool CpuHasAvx2() {
#ifdef FACET_TAGS_AVX2_KERNELS
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi");
  }();
  return has;
#else
  return false;
#endif
}

StepFn SelectStep(bool simd, WordOp op) { return simd ? StepFor<true>(op) : StepFor<false>(op); }

FinishFn SelectFinish(bool simd, WordOp op, bool neg, bool mask, bool store) {
  return simd ? FinishFor<true>(op, neg, mask, store) : FinishFor<false>(op, neg, mask, store);
}

void ExtractBits(bool simd, const uint64_t* words, size_t cardinality, uint16_t* out) {
#ifdef FACET_TAGS_AVX2_KERNELS
  if (simd) {
    ExtractBitsAvx2(words, cardinality, out);
    return;
  }
#endif
  ExtractBitsPortable(words, cardinality, out);
}

}  // namespace facet::bitmap::internal
