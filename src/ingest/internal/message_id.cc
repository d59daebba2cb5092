#include "ingest/internal/message_id.h"

#include <cstdint>
#include <random>

namespace facet::ingest::internal {

std::string GenerateMessageId() {
  // Seeded with 256 bits so that threads and processes draw independent
  // streams.
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;              // version 4
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // variant 1
  std::string out(36, '-');
  size_t pos = 0;
  const auto put = [&](uint64_t v) {
    for (int i = 15; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[pos++] = kHex[(v >> (4 * i)) & 0xF];
    }
  };
  put(hi);
  put(lo);
  return out;
}

}  // namespace facet::ingest::internal
