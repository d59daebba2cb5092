// ingest::ParseRequest over arbitrary request bodies: every body is parsed
// as a batch and as one single-event endpoint (picked by the body's length,
// so that the seeds stay plain JSON).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "ingest/tracking_parser.h"

namespace {

constexpr facet::ingest::Endpoint kSingle[] = {
    facet::ingest::Endpoint::kIdentify, facet::ingest::Endpoint::kTrack, facet::ingest::Endpoint::kPage,
    facet::ingest::Endpoint::kScreen,   facet::ingest::Endpoint::kGroup, facet::ingest::Endpoint::kAlias,
};

void Check(const facet::ingest::RequestParse& r) {
  FUZZ_CHECK(r.rejected.size() == r.rejected_raw.size());
  if (r.fatal) FUZZ_CHECK(r.events.empty());
  for (const auto& e : r.events) FUZZ_CHECK(!e.identifiers.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const facet::ingest::ParseOptions options;
  constexpr facet::TimeMs kReceivedAt = 1'780'000'000'000;  // 2026-05-28
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Check(facet::ingest::ParseRequest(facet::ingest::Endpoint::kBatch, body, kReceivedAt, options));
  Check(facet::ingest::ParseRequest(kSingle[size % 6], body, kReceivedAt, options));
  return 0;
}
