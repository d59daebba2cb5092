// RecordReader: one input file as a sequence of records (rows) with named
// columns, whatever its format (CSV, NDJSON).
//
//   ASSIGN_OR_RETURN(auto reader, CsvReader::Open(std::move(source), options));
//   Record r;
//   while (true) {
//     ASSIGN_OR_RETURN(bool more, reader->Next(&r));
//     if (!more) break;
//     if (!r.error.empty()) { reject r.line with r.error; continue; }
//     use r.fields[i] for reader->columns()[i]
//   }
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace facet::importer {

struct Record {
  // One value per column of the reader, in the order of columns().
  std::vector<std::string> fields;
  int64_t line = 0;  // 1-based line of the input where the record starts
  std::string raw;   // the record's text as it appears in the input, without its line end
  // Why this record cannot be used (e.g. "has 7 fields, the header has 8");
  // empty for a good record. A bad record is still a row of the input.
  std::string error;
};

class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // Reads the next record into `*out`; false at the end of the input.
  // Errors are the source's (DataLoss, Internal); a malformed record is
  // returned with `error` set instead.
  virtual absl::StatusOr<bool> Next(Record* out) = 0;
  // Names of the columns, in field order.
  virtual const std::vector<std::string>& columns() const = 0;
  // Bytes of the input consumed and its total size (0 = unknown).
  virtual uint64_t bytes_consumed() const = 0;
  virtual uint64_t bytes_total() const = 0;
};

}  // namespace facet::importer
