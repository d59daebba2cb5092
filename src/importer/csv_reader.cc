#include "importer/csv_reader.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "base/status.h"
#include "importer/internal/strings.h"

namespace facet::importer {
namespace {

constexpr size_t kReadChunk = 1 << 18;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

CsvReader::CsvReader(std::unique_ptr<ByteSource> source, CsvOptions options)
    : source_(std::move(source)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(std::unique_ptr<ByteSource> source, CsvOptions options) {
  std::unique_ptr<CsvReader> reader(new CsvReader(std::move(source), std::move(options)));
  // Skip a UTF-8 byte-order mark.
  while (reader->buf_.size() < 3 && !reader->eof_) {
    ASSIGN_OR_RETURN(bool more, reader->Fill());
    if (!more) break;
  }
  if (reader->buf_.compare(0, 3, "\xEF\xBB\xBF") == 0) reader->pos_ = 3;

  if (!reader->options_.header && reader->options_.columns.empty()) {
    return absl::InvalidArgumentError("a file without a header row needs column names");
  }
  if (reader->options_.header) {
    std::vector<std::string> header;
    std::string raw, error;
    int64_t line = 0;
    ASSIGN_OR_RETURN(bool found, reader->ReadRecord(&header, &raw, &line, &error));
    if (!found) return absl::InvalidArgumentError("the input is empty: expected a header row");
    if (!error.empty()) return absl::InvalidArgumentError(internal::Cat("header row: ", error));
    for (std::string& name : header) {
      reader->columns_.push_back(std::string(internal::Trim(name)));
    }
  }
  if (!reader->options_.columns.empty()) reader->columns_ = reader->options_.columns;
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < reader->columns_.size(); ++i) {
    const std::string& name = reader->columns_[i];
    if (name.empty()) {
      return absl::InvalidArgumentError(internal::Cat("header: column ", i + 1, " has no name"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(internal::Cat("header: column \"", name, "\" appears twice"));
    }
  }
  return reader;
}

absl::StatusOr<bool> CsvReader::Fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  absl::StatusOr<size_t> got = source_->Read(buf_.data() + old, kReadChunk);
  if (!got.ok()) {
    buf_.resize(old);
    return got.status();
  }
  buf_.resize(old + *got);
  if (*got == 0) eof_ = true;
  return *got > 0;
}

absl::StatusOr<bool> CsvReader::ReadRecord(std::vector<std::string>* fields, std::string* raw, int64_t* line,
                                           std::string* error) {
  fields->clear();
  raw->clear();
  error->clear();
  const bool ws = options_.whitespace;
  const char delim = options_.delimiter;

  // Skip blank lines (and, when blank-separated, lines of blanks).
  while (true) {
    if (pos_ == buf_.size()) {
      ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return false;
    }
    char c = buf_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
    } else if (c == '\r' || (ws && IsBlank(c))) {
      ++pos_;
    } else {
      break;
    }
  }

  *line = line_;
  std::string field;
  bool in_quotes = false;
  bool quoted = false;         // the current field began with a quote
  bool field_started = false;  // the current field has content (blank-separated mode)
  int64_t quote_line = 0;

  auto end_field = [&] {
    fields->push_back(std::move(field));
    field.clear();
    quoted = false;
    field_started = false;
  };

  while (true) {
    if (pos_ == buf_.size()) {
      ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) {
        if (in_quotes) {
          *error = internal::Cat("the quoted field that starts on line ", quote_line,
                                 " is not closed before the end of the input");
        }
        break;
      }
    }
    char c = buf_[pos_++];
    if (in_quotes) {
      if (c == '"') {
        if (pos_ == buf_.size()) {
          ASSIGN_OR_RETURN(bool more, Fill());
          (void)more;
        }
        if (pos_ < buf_.size() && buf_[pos_] == '"') {
          ++pos_;
          field.push_back('"');
          raw->append("\"\"");
          continue;
        }
        in_quotes = false;
        raw->push_back(c);
        continue;
      }
      if (c == '\n') ++line_;
      field.push_back(c);
      raw->push_back(c);
      continue;
    }
    if (c == '\n') {
      ++line_;
      break;
    }
    if (c == '\r') {
      if (pos_ == buf_.size()) {
        ASSIGN_OR_RETURN(bool more, Fill());
        (void)more;
      }
      if (pos_ == buf_.size() || buf_[pos_] == '\n') {
        if (pos_ < buf_.size()) ++pos_;
        ++line_;
        break;
      }
      field.push_back(c);
      raw->push_back(c);
      field_started = true;
      continue;
    }
    raw->push_back(c);
    if (ws ? IsBlank(c) : c == delim) {
      if (ws) {
        if (field_started) end_field();
      } else {
        end_field();
      }
      continue;
    }
    if (c == '"' && field.empty() && !quoted) {
      in_quotes = true;
      quoted = true;
      field_started = true;
      quote_line = line_;
      continue;
    }
    // Lenient: a quote inside an unquoted field, or text after a closing
    // quote, is kept as it is.
    field.push_back(c);
    field_started = true;
  }
  if (!ws || field_started) end_field();
  return true;
}

absl::StatusOr<bool> CsvReader::Next(Record* out) {
  ASSIGN_OR_RETURN(bool found, ReadRecord(&out->fields, &out->raw, &out->line, &out->error));
  if (!found) return false;
  if (out->error.empty() && out->fields.size() != columns_.size()) {
    out->error = internal::Cat("has ", out->fields.size(), " field", out->fields.size() == 1 ? "" : "s",
                               ", the header has ", columns_.size());
  }
  if (!out->error.empty()) out->fields.resize(columns_.size());
  return true;
}

}  // namespace facet::importer
