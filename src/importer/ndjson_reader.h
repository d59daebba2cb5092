// NdjsonReader: newline-delimited JSON, one object per line. Blank lines are
// skipped. Columns are the names a mapping asks for; a column "a.b" is the
// key "a.b" of the object if it has one, else the nested value at a -> b.
// Values become text: strings as they are, numbers and booleans as written,
// null and missing keys as "", objects and arrays as JSON text.
//
//   ASSIGN_OR_RETURN(auto reader,
//                    NdjsonReader::Open(std::move(source), {"userId", "properties.total"}));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "importer/input_file.h"
#include "importer/record_reader.h"

namespace facet::importer {

class NdjsonReader final : public RecordReader {
 public:
  static absl::StatusOr<std::unique_ptr<NdjsonReader>> Open(std::unique_ptr<ByteSource> source,
                                                            std::vector<std::string> columns);

  // A line that is not a JSON object is returned with `error` set.
  absl::StatusOr<bool> Next(Record* out) override;
  const std::vector<std::string>& columns() const override { return columns_; }
  uint64_t bytes_consumed() const override { return source_->consumed(); }
  uint64_t bytes_total() const override { return source_->size(); }

 private:
  NdjsonReader(std::unique_ptr<ByteSource> source, std::vector<std::string> columns);
  // Reads one line into `*line` (without its line end); false at the end.
  absl::StatusOr<bool> ReadLine(std::string* line);

  std::unique_ptr<ByteSource> source_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> paths_;  // columns_ split on '.'
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  int64_t line_ = 0;  // line number of the last line read
};

}  // namespace facet::importer
