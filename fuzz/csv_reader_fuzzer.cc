// importer::CsvReader over arbitrary files (plain or gzip, as MemorySource
// detects), with a header and comma delimiter, and again as a
// whitespace-separated file without a header.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "fuzz/fuzz_check.h"
#include "importer/csv_reader.h"
#include "importer/input_file.h"

namespace {

void ReadAll(std::string data, facet::importer::CsvOptions options) {
  auto reader = facet::importer::CsvReader::Open(facet::importer::MemorySource(std::move(data)), std::move(options));
  if (!reader.ok()) return;
  const size_t columns = (*reader)->columns().size();
  FUZZ_CHECK(columns > 0);
  facet::importer::Record record;
  int64_t last_line = 0;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    FUZZ_CHECK(record.line > last_line);
    last_line = record.line;
    if (record.error.empty()) FUZZ_CHECK(record.fields.size() == columns);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ReadAll(text, {});
  ReadAll(text, {.delimiter = ';', .whitespace = true, .header = false, .columns = {"a", "b", "c"}});
  return 0;
}
