// Word-level kernels behind the bitmap formula evaluator: one operation over
// a block of 64-bit words, in an AVX2 and a portable flavour that give
// identical results. Not part of the tags API.
#pragma once

#include <cstddef>
#include <cstdint>

namespace facet::bitmap::internal {

// A 65,536-id chunk is 1024 words; kernels work on blocks of 256 words
// (2 KiB), so that a formula's temporaries stay in L1.
inline constexpr int kChunkWords = 1024;
inline constexpr int kBlockWords = 256;
inline constexpr int kBlocksPerChunk = kChunkWords / kBlockWords;
inline constexpr uint32_t kBlockBits = kBlockWords * 64;

// kAndNot is a & ~b, kNotAnd is ~a & b, kFirst is a alone.
enum class WordOp : uint8_t { kAnd, kOr, kAndNot, kNotAnd, kFirst };

// dst[i] = op(a[i], b[i]) for a block; dst may alias a or b. kFirst is not a
// step.
using StepFn = void (*)(uint64_t* dst, const uint64_t* a, const uint64_t* b);

// For a block: r = op(a[i], b[i]), complemented if `neg`, ANDed with u[i] if
// `mask`, stored to out[i] if `store`; returns the number of set bits of r.
// Unused pointers may be null.
using FinishFn = uint64_t (*)(const uint64_t* a, const uint64_t* b, const uint64_t* u, uint64_t* out);

// Whether this CPU runs the AVX2 kernels.
bool CpuHasAvx2();

// The kernels for `op`; `simd` picks AVX2 and must only be true if
// CpuHasAvx2().
StepFn SelectStep(bool simd, WordOp op);
FinishFn SelectFinish(bool simd, WordOp op, bool neg, bool mask, bool store);

// Room `ExtractBits` needs past the last value it writes.
inline constexpr size_t kExtractSlack = 4;

// Writes the set bits of a chunk (kChunkWords words holding `cardinality`
// set bits) to `out` as increasing 16-bit values. `out` must have room for
// cardinality + kExtractSlack values; the slack gets scratch values.
void ExtractBits(bool simd, const uint64_t* words, size_t cardinality, uint16_t* out);

}  // namespace facet::bitmap::internal
