// api::Decompress over arbitrary request bodies, with a small output bound
// so that the bound itself is exercised.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/gzip.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)facet::api::LooksGzipped(body);
  constexpr size_t kMaxBytes = 64 * 1024;
  absl::StatusOr<std::string> out = facet::api::Decompress(body, kMaxBytes);
  if (out.ok()) FUZZ_CHECK(out->size() <= kMaxBytes);
  return 0;
}
