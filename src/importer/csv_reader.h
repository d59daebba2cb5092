// CsvReader: RFC 4180 CSV. Fields may be quoted with '"'; a quoted field may
// contain the delimiter, line breaks and doubled quotes (""). Records end
// with LF or CRLF. The first record is the header unless column names are
// given. Blank lines are skipped. A UTF-8 byte-order mark is ignored.
//
//   CsvOptions options{.delimiter = ';'};
//   ASSIGN_OR_RETURN(auto reader, CsvReader::Open(std::move(source), options));
//
// Whitespace-separated files (such as CDNOW's) use `whitespace = true`:
// fields are separated by runs of spaces and tabs, and leading and trailing
// blanks are ignored.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "importer/input_file.h"
#include "importer/record_reader.h"

namespace facet::importer {

struct CsvOptions {
  char delimiter = ',';
  bool whitespace = false;  // separate on runs of blanks instead of `delimiter`
  // Whether the first record is a header row (it is not data either way).
  bool header = true;
  // Column names to use instead of the header's; required without a header.
  std::vector<std::string> columns;
};

class CsvReader final : public RecordReader {
 public:
  // Reads the header row, if any. InvalidArgument when there is neither a
  // header nor `columns`, when the input has no header row, or when a column
  // name is empty or repeated; the source's error if reading fails.
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(std::unique_ptr<ByteSource> source, CsvOptions options);

  // A record whose number of fields differs from the header's, or whose
  // quoted field is not closed before the end of the input, is returned with
  // `error` set.
  absl::StatusOr<bool> Next(Record* out) override;
  const std::vector<std::string>& columns() const override { return columns_; }
  uint64_t bytes_consumed() const override { return source_->consumed(); }
  uint64_t bytes_total() const override { return source_->size(); }

 private:
  CsvReader(std::unique_ptr<ByteSource> source, CsvOptions options);
  // Splits the next non-blank record into `fields`. False at the end.
  absl::StatusOr<bool> ReadRecord(std::vector<std::string>* fields, std::string* raw, int64_t* line,
                                  std::string* error);
  // Makes at least one more byte available; false at the end of input.
  absl::StatusOr<bool> Fill();

  std::unique_ptr<ByteSource> source_;
  CsvOptions options_;
  std::vector<std::string> columns_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  int64_t line_ = 1;  // line of the next byte
};

}  // namespace facet::importer
