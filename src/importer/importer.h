// facet import: streams CSV or NDJSON files (plain or gzip) into a running
// Facet server through POST /v1/batch, converting rows to Segment messages
// as a mapping file says (docs/import-mapping.md).
//
//   ImportOptions options;
//   options.url = "http://127.0.0.1:8080";
//   options.write_key = "wk";
//   options.mapping_path = "examples/online-retail/mapping.yaml";
//   options.inputs = {"online_retail.csv"};
//   ASSIGN_OR_RETURN(ImportSummary s, RunImport(options));
//
// Every row read is accounted for: it is imported (its event was stored or
// already stored), or rejected with a reason in the reject file, a CSV with
// columns line,reason,raw. Rows are rejected when they do not convert (e.g.
// `Quantity: "abc" is not a number`), when the server quarantines their
// event, or when the import stops before their event could be sent.
//
// Events go out in batches of up to `batch_size` events (and at most
// `max_batch_bytes`) over `connections` keep-alive connections. Server errors
// (5xx, 429) and lost connections are retried with exponential backoff;
// re-sending is safe because the server de-duplicates on messageId.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/http_client.h"

namespace facet::importer {

struct ImportOptions {
  std::string url = "http://127.0.0.1:8080";
  // Use a server write key: imports come from the back-end.
  std::string write_key;
  // Key of the default messageIds (rows without a mapped message_id);
  // empty: the write key. Keep it to re-run an import without duplicates.
  std::string id_key;
  std::string mapping_path;
  std::vector<std::string> inputs;  // "-" is standard input
  // Default: "<first input's base name>.rejects.csv" in the current directory.
  // Written only when a row is rejected; a file left there by an earlier
  // import is removed when this one starts sending.
  std::string reject_path;
  int batch_size = 500;
  int connections = 2;
  // A progress bar on stderr (rows, rows/s, %, ETA), redrawn in place on a
  // terminal and printed as plain lines every few seconds otherwise.
  bool progress = true;
  // The server's limits (ingest.max_event_bytes and max_batch_bytes), with a
  // margin.
  size_t max_event_bytes = 32000;
  size_t max_batch_bytes = 500000;
  // Attempts per batch before the import stops, with backoff from
  // `retry_initial_ms` doubling up to `retry_max_ms`.
  int max_attempts = 8;
  int retry_initial_ms = 200;
  int retry_max_ms = 10000;
};

// Invariant: rows_read == rows_imported + rows_rejected.
struct ImportSummary {
  uint64_t rows_read = 0;
  uint64_t rows_imported = 0;
  uint64_t rows_rejected = 0;
  uint64_t events_sent = 0;
  uint64_t events_accepted = 0;
  uint64_t events_duplicate = 0;
  uint64_t events_quarantined = 0;  // refused by the server (quarantined or 400)
  double seconds = 0;
  // Items left out of grouped events that were over the size limit (their
  // rows still count in the aggregates and as imported).
  uint64_t items_omitted = 0;
  std::string reject_path;  // empty when nothing was rejected
};

// Runs an import and prints its summary on stdout. Errors: InvalidArgument
// for bad options or mapping (before anything is sent), NotFound for a
// missing input, Unavailable when the server cannot be reached or keeps
// failing, PermissionDenied/Unauthenticated when it refuses the write key,
// DataLoss for a corrupt input. When an error stops an import midway, the
// summary of what was done is printed before the error is returned, and
// every row read so far is accounted for in it.
absl::StatusOr<ImportSummary> RunImport(const ImportOptions& options);

// Where an import connects and writes; tests substitute a fake server.
struct ImportEnvironment {
  using Connector = std::function<absl::StatusOr<std::unique_ptr<client::HttpClient>>()>;
  Connector connect;            // default: client::HttpClient::Connect(options.url)
  std::FILE* summary = stdout;  // nullptr: do not print
  std::FILE* progress = stderr;
};
absl::StatusOr<ImportSummary> RunImport(const ImportOptions& options, const ImportEnvironment& env);

}  // namespace facet::importer
