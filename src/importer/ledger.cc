#include "importer/ledger.h"
#include "importer/internal/strings.h"

#include <cerrno>
#include <cstring>
#include <utility>

namespace facet::importer {

Ledger::Ledger(std::string reject_path, std::vector<std::string> inputs)
    : path_(std::move(reject_path)), inputs_(std::move(inputs)) {}

Ledger::~Ledger() { Close().IgnoreError(); }  // errors were reported by the explicit Close()

void Ledger::Rejected(const std::vector<RowRef>& rows, std::string_view reason, std::string_view raw) {
  rows_rejected_.fetch_add(rows.size(), std::memory_order_relaxed);
  std::string lines;
  for (const RowRef& r : rows) {
    if (!lines.empty()) lines.push_back(';');
    if (inputs_.size() > 1 && r.input < inputs_.size()) {
      internal::Append(&lines, inputs_[r.input], ":", r.line);
    } else {
      internal::Append(&lines, r.line);
    }
  }
  std::string row;
  AppendCsvField(&row, lines);
  row.push_back(',');
  AppendCsvField(&row, reason);
  row.push_back(',');
  AppendCsvField(&row, raw);
  row.push_back('\n');

  std::lock_guard<std::mutex> lock(mu_);
  if (!opened_) {
    opened_ = true;
    file_ = std::fopen(path_.c_str(), "w");
    if (file_ == nullptr) {
      error_ = absl::InternalError(internal::Cat("reject file ", path_, ": cannot be written: ", std::strerror(errno)));
      return;
    }
    std::fputs("line,reason,raw\n", file_);
  }
  if (file_ != nullptr && std::fwrite(row.data(), 1, row.size(), file_) != row.size() && error_.ok()) {
    error_ = absl::InternalError(internal::Cat("reject file ", path_, ": write failed: ", std::strerror(errno)));
  }
}

absl::Status Ledger::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr) {
    if (std::fclose(file_) != 0 && error_.ok()) {
      error_ = absl::InternalError(internal::Cat("reject file ", path_, ": write failed: ", std::strerror(errno)));
    }
    file_ = nullptr;
  }
  return error_;
}

std::string Ledger::reject_path_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_ ? path_ : std::string();
}

}  // namespace facet::importer
