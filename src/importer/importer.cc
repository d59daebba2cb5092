#include "importer/importer.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "base/status.h"
#include "importer/batch_sender.h"
#include "importer/csv_reader.h"
#include "importer/input_file.h"
#include "importer/internal/strings.h"
#include "importer/ledger.h"
#include "importer/mapping.h"
#include "importer/ndjson_reader.h"
#include "importer/progress.h"
#include "importer/row_transform.h"

namespace facet::importer {
namespace {

bool IsNdjsonName(std::string_view base) {
  std::string lower = internal::ToLower(base);
  return internal::EndsWith(lower, ".ndjson") || internal::EndsWith(lower, ".jsonl") ||
         internal::EndsWith(lower, ".json");
}

// One input, opened and bound to the mapping.
struct Input {
  std::string path;
  std::string name;
  std::unique_ptr<RecordReader> reader;
  std::optional<RowTransformer> transformer;
};

absl::StatusOr<Input> OpenInput(const std::string& path, const Mapping& mapping, const ImportOptions& options) {
  Input in;
  in.path = path;
  in.name = path == "-" ? "stdin" : InputBaseName(path);
  ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, OpenInputFile(path));
  InputFormat format = mapping.format;
  if (format == InputFormat::kAuto) {
    format = IsNdjsonName(in.name) ? InputFormat::kNdjson : InputFormat::kCsv;
  }
  if (format == InputFormat::kNdjson) {
    ASSIGN_OR_RETURN(in.reader, NdjsonReader::Open(std::move(source), mapping.ReferencedColumns()));
  } else {
    CsvOptions csv;
    csv.whitespace = mapping.whitespace_separated;
    csv.delimiter = mapping.delimiter.value_or(internal::EndsWith(internal::ToLower(in.name), ".tsv") ? '\t' : ',');
    csv.header = mapping.has_header;
    csv.columns = mapping.columns;
    absl::StatusOr<std::unique_ptr<CsvReader>> reader = CsvReader::Open(std::move(source), csv);
    if (!reader.ok()) return Annotate(reader.status(), path);
    in.reader = std::move(*reader);
  }
  absl::StatusOr<RowTransformer> t =
      RowTransformer::Create(mapping, in.reader->columns(),
                             {.input_name = in.name,
                              .max_event_bytes = options.max_event_bytes,
                              .id_key = options.id_key.empty() ? options.write_key : options.id_key});
  if (!t.ok()) {
    return absl::Status(t.status().code(),
                        internal::Cat(path, ": mapping ", mapping.source_name, ": ", t.status().message()));
  }
  in.transformer.emplace(std::move(*t));
  return in;
}

absl::Status CheckOptions(const ImportOptions& o) {
  if (o.inputs.empty()) return absl::InvalidArgumentError("no input files");
  if (o.mapping_path.empty()) return absl::InvalidArgumentError("no mapping file (--mapping)");
  if (o.url.empty()) return absl::InvalidArgumentError("no server URL (--url)");
  if (o.batch_size < 1) return absl::InvalidArgumentError("batch size must be at least 1");
  if (o.connections < 1) return absl::InvalidArgumentError("connections must be at least 1");
  for (const std::string& path : o.inputs) {
    struct stat st {};
    if (path != "-" && stat(path.c_str(), &st) != 0) {
      return absl::NotFoundError(internal::Cat(path, ": no such file"));
    }
  }
  return absl::OkStatus();
}

void PrintSummary(std::FILE* out, const ImportSummary& s) {
  if (out == nullptr) return;
  auto row = [&](const char* name, uint64_t v) {
    std::fprintf(out, "  %-20s %12llu\n", name, static_cast<unsigned long long>(v));
  };
  std::fprintf(out, "import summary\n");
  row("rows_read", s.rows_read);
  row("rows_imported", s.rows_imported);
  row("rows_rejected", s.rows_rejected);
  row("events_sent", s.events_sent);
  row("events_accepted", s.events_accepted);
  row("events_duplicate", s.events_duplicate);
  row("events_quarantined", s.events_quarantined);
  row("items_omitted", s.items_omitted);
  std::fprintf(out, "  %-20s %12.2f\n", "seconds", s.seconds);
  row("rows_per_second", s.seconds > 0 ? static_cast<uint64_t>(static_cast<double>(s.rows_read) / s.seconds) : 0);
  if (!s.reject_path.empty()) {
    std::fprintf(out, "rejected rows are listed in %s\n", s.reject_path.c_str());
  }
  std::fflush(out);
}

}  // namespace

absl::StatusOr<ImportSummary> RunImport(const ImportOptions& options) {
  return RunImport(options, ImportEnvironment{});
}

absl::StatusOr<ImportSummary> RunImport(const ImportOptions& options, const ImportEnvironment& env) {
  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(CheckOptions(options));
  ASSIGN_OR_RETURN(Mapping mapping, LoadMapping(options.mapping_path));

  // Open every input and bind the mapping to it before anything is sent, so
  // that a missing column in the third file does not leave half an import.
  std::vector<Input> inputs;
  for (const std::string& path : options.inputs) {
    ASSIGN_OR_RETURN(Input in, OpenInput(path, mapping, options));
    inputs.push_back(std::move(in));
  }

  ImportEnvironment::Connector connect = env.connect;
  if (!connect) {
    std::string url = options.url;
    connect = [url]() { return client::HttpClient::Connect(url); };
  }
  absl::StatusOr<std::unique_ptr<client::HttpClient>> first = connect();
  if (!first.ok()) {
    return absl::UnavailableError(
        internal::Cat("cannot reach the server at ", options.url, ": ", first.status().message()));
  }

  std::string reject_path = options.reject_path;
  if (reject_path.empty()) reject_path = inputs.front().name + ".rejects.csv";
  // A reject file left by an earlier run would describe rows of that run.
  std::remove(reject_path.c_str());
  std::vector<std::string> names;
  for (const Input& in : inputs) names.push_back(in.name);
  Ledger ledger(reject_path, names);

  SenderOptions sender_options;
  sender_options.write_key = options.write_key;
  sender_options.connections = options.connections;
  sender_options.batch_size = static_cast<size_t>(options.batch_size);
  sender_options.max_batch_bytes = options.max_batch_bytes;
  sender_options.max_attempts = options.max_attempts;
  sender_options.retry_initial_ms = options.retry_initial_ms;
  sender_options.retry_max_ms = options.retry_max_ms;
  BatchSender sender(sender_options, connect, ledger, std::move(*first));
  sender.Start();

  // Progress: the share of input bytes read, over all inputs.
  uint64_t total_bytes = 0;
  bool sizes_known = true;
  for (const Input& in : inputs) {
    total_bytes += in.reader->bytes_total();
    if (in.reader->bytes_total() == 0) sizes_known = false;
  }
  // Bytes of input read so far, published by the reading thread.
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<bool> reading_done{false};
  Progress progress(options.progress ? env.progress : nullptr, [&]() {
    ProgressState s;
    s.rows_read = ledger.rows_read();
    s.rows_done = ledger.rows_imported() + ledger.rows_rejected();
    s.reading_done = reading_done.load();
    if (sizes_known && total_bytes > 0) {
      s.input_fraction = std::min(1.0, static_cast<double>(bytes_read.load()) / static_cast<double>(total_bytes));
    }
    return s;
  });
  progress.Start();

  std::optional<EventGrouper> grouper;
  if (mapping.group_by) grouper.emplace(mapping, options.max_event_bytes);

  absl::Status read_status;
  Record record;
  std::string json, reason;
  for (uint32_t i = 0; i < inputs.size() && read_status.ok() && !sender.aborted(); ++i) {
    Input& in = inputs[i];
    const uint64_t bytes_before = bytes_read.load();
    uint64_t rows = 0;
    while (!sender.aborted()) {
      if (++rows % 1024 == 0) bytes_read.store(bytes_before + in.reader->bytes_consumed());
      absl::StatusOr<bool> more = in.reader->Next(&record);
      if (!more.ok()) {
        read_status = Annotate(more.status(), internal::Cat(in.path, " near line ", record.line));
        break;
      }
      if (!*more) break;
      ledger.RowRead();
      RowRef ref{i, record.line};
      if (grouper) {
        if (!grouper->Add(*in.transformer, record, ref, &reason)) {
          ledger.Rejected({ref}, reason, record.raw);
        }
      } else if (in.transformer->Transform(record, &json, &reason)) {
        sender.Add(RowEvent{std::move(json), {ref}, std::move(record.raw), 0});
        json.clear();
      } else {
        ledger.Rejected({ref}, reason, record.raw);
      }
    }
    bytes_read.store(bytes_before + in.reader->bytes_total());
    in.reader.reset();
  }
  reading_done.store(true);

  if (grouper) {
    if (read_status.ok()) {
      grouper->Finish([&](RowEvent e) { sender.Add(std::move(e)); }, [&](Rejection r) { ledger.Rejected(r); });
    } else {
      // A partly read input: its groups may be incomplete, so none is sent.
      std::string why = internal::Cat("not sent: the import stopped: ", read_status.message());
      grouper->Finish([&](RowEvent e) { ledger.Rejected(e.rows, why, e.raw); },
                      [&](Rejection r) { ledger.Rejected(r.rows, why, r.raw); });
    }
  }
  absl::Status send_status = sender.Finish();
  absl::Status ledger_status = ledger.Close();
  progress.Stop();

  ImportSummary summary;
  summary.rows_read = ledger.rows_read();
  summary.rows_imported = ledger.rows_imported();
  summary.rows_rejected = ledger.rows_rejected();
  const SenderCounters& c = sender.counters();
  summary.events_sent = c.events_sent.load();
  summary.events_accepted = c.events_accepted.load();
  summary.events_duplicate = c.events_duplicate.load();
  summary.events_quarantined = c.events_quarantined.load();
  summary.items_omitted = c.items_omitted.load();
  summary.reject_path = ledger.reject_path_written();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintSummary(env.summary, summary);

  RETURN_IF_ERROR(read_status);
  RETURN_IF_ERROR(send_status);
  RETURN_IF_ERROR(ledger_status);
  return summary;
}

}  // namespace facet::importer
