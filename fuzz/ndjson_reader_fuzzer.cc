// importer::NdjsonReader over arbitrary files, reading top-level and nested
// columns.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "importer/input_file.h"
#include "importer/ndjson_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> columns = {"userId", "event", "properties.total", "context.traits.email",
                                            "a.b.c",  "traits"};
  auto reader = facet::importer::NdjsonReader::Open(
      facet::importer::MemorySource(std::string(reinterpret_cast<const char*>(data), size)), columns);
  if (!reader.ok()) return 0;
  facet::importer::Record record;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    if (record.error.empty()) FUZZ_CHECK(record.fields.size() == columns.size());
  }
  return 0;
}
