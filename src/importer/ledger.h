// Ledger: the fate of every row of an import. Counts rows read, imported and
// rejected, and writes each rejection to the reject file (CSV with columns
// line,reason,raw), created when the first row is rejected.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "base/csv_field.h"
#include "importer/row_transform.h"

namespace facet::importer {

class Ledger {
 public:
  // `inputs` name the inputs by position; when there are several, lines are
  // written as "name:line".
  Ledger(std::string reject_path, std::vector<std::string> inputs);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  void RowRead() { rows_read_.fetch_add(1, std::memory_order_relaxed); }
  void Imported(uint64_t rows) { rows_imported_.fetch_add(rows, std::memory_order_relaxed); }
  void Rejected(const std::vector<RowRef>& rows, std::string_view reason, std::string_view raw);
  void Rejected(const Rejection& r) { Rejected(r.rows, r.reason, r.raw); }

  // Flushes and closes the reject file. Internal if it could not be written.
  absl::Status Close();

  uint64_t rows_read() const { return rows_read_.load(std::memory_order_relaxed); }
  uint64_t rows_imported() const { return rows_imported_.load(std::memory_order_relaxed); }
  uint64_t rows_rejected() const { return rows_rejected_.load(std::memory_order_relaxed); }
  // The reject file's path if anything was rejected, else "".
  std::string reject_path_written() const;

 private:
  const std::string path_;
  const std::vector<std::string> inputs_;
  std::atomic<uint64_t> rows_read_{0}, rows_imported_{0}, rows_rejected_{0};
  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  bool opened_ = false;
  absl::Status error_;
};

using facet::AppendCsvField;

}  // namespace facet::importer
