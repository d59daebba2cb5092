// bitmap::Bitmap::Decode over arbitrary bytes, and over arbitrary CRoaring
// payloads in a valid envelope (header and CRC-32C computed here), so that
// the checksum does not hide the payload checks from the fuzzer. A decoded
// bitmap must encode and decode back to itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "bitmap/bitmap.h"
#include "fuzz/fuzz_check.h"

namespace {

uint32_t Crc32c(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
  }
  return ~crc;
}

void PutLittleEndian(uint64_t v, int n, std::string* out) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// The snapshot format of bitmap.cc: "FBM1", version 1 (u32), payload size
// (u64), payload, CRC-32C of all before it (u32); little-endian.
std::string Envelope(std::string_view payload) {
  std::string out = "FBM1";
  PutLittleEndian(1, 4, &out);
  PutLittleEndian(payload.size(), 8, &out);
  out.append(payload);
  PutLittleEndian(Crc32c(out), 4, &out);
  return out;
}

void DecodeAndCheck(std::string_view bytes) {
  absl::StatusOr<facet::bitmap::Bitmap> b = facet::bitmap::Bitmap::Decode(bytes);
  if (!b.ok()) return;
  const uint64_t n = b->Cardinality();
  FUZZ_CHECK(b->ToVector(1000).size() == std::min<uint64_t>(n, 1000));
  absl::StatusOr<facet::bitmap::Bitmap> again = facet::bitmap::Bitmap::Decode(b->Encode());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *b);
  if (n > 0) FUZZ_CHECK(b->Contains(b->Minimum()) && b->Contains(b->Maximum()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeAndCheck(bytes);
  DecodeAndCheck(Envelope(bytes));
  return 0;
}
