// segment_bench: audience counts over N persons, Facet against SQLite,
// PostgreSQL and ClickHouse on the same data and the same two questions
// (segment_bench_data.h), side by side in one run.
//
//   segment_bench --persons=1000000                   # Facet and SQLite only
//   segment_bench --pg="host=127.0.0.1 port=5433 user=facet dbname=bench"
//                 --clickhouse=http://127.0.0.1:8124 --json=out.json
//   scripts/segment-bench.sh build/bench/segment_bench  # starts the servers
//
// Every engine's count must equal the reference computed from the data set's
// arrays; any mismatch, or an engine that fails, makes the exit status 1.
// Facet's engine plugs in through RunFacet() (segment_bench_engine.h); while
// it is not linked, the peers are still measured and reported.

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status.h"
#include "bench/flags.h"
#include "bench/segment_bench_data.h"
#include "bench/segment_bench_engine.h"
#include "bench/segment_bench_peers.h"

namespace facet::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

const std::vector<std::string> kEngineKeys = {"facet", "sqlite", "pg", "clickhouse"};

struct Flags {
  uint32_t persons = kDefaultBenchPersons;
  uint64_t seed = kDefaultBenchSeed;
  int repeat = 7;
  int upkeep_events = 20000;
  std::string sqlite_path;  // empty: a file in a fresh temp dir, removed afterwards
  std::string pg;           // libpq connection string
  std::string clickhouse;   // http://host:port
  std::set<std::string> only;
  std::string json;
};

constexpr char kUsage[] = R"(usage: segment_bench [flags]
  --persons=N         persons in the data set (default 10000000; 1e6 works)
  --seed=N            data set seed (default 20261101)
  --repeat=N          timed repetitions per question after one warm-up (default 7)
  --upkeep-events=N   events timed for Facet's per-event upkeep with 300 rule tags (default 20000)
  --sqlite-path=FILE  SQLite database file, replaced (default: a temp file, removed after)
  --pg=CONNINFO       PostgreSQL, e.g. "host=127.0.0.1 port=5433 user=facet dbname=bench"
  --clickhouse=URL    ClickHouse HTTP interface, e.g. http://127.0.0.1:8123
  --only=LIST         engines to run, from facet,sqlite,pg,clickhouse (the last --only counts)
                      (default: facet, sqlite, and pg / clickhouse when their address is given)
  --json=FILE         also write the figures as JSON
scripts/segment-bench.sh starts throwaway PostgreSQL and ClickHouse servers and passes them.
)";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  bool only_given = false;
  ASSIGN_OR_RETURN(std::vector<Flag> flags, SplitFlags(argc, argv, kUsage));
  for (const auto& [name, value] : flags) {
    auto number = [&](double max) -> absl::StatusOr<double> {
      double d = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
      if (ec != std::errc() || end != value.data() + value.size() || d < 1 || d > max || d != std::floor(d)) {
        return absl::InvalidArgumentError("--" + name + ": not a whole number in [1, " + std::to_string(max) + "]: '" +
                                          value + "'");
      }
      return d;
    };
    if (name == "persons") {
      ASSIGN_OR_RETURN(double n, number(4e9));
      f.persons = static_cast<uint32_t>(n);
    } else if (name == "seed") {
      ASSIGN_OR_RETURN(double n, number(1e18));
      f.seed = static_cast<uint64_t>(n);
    } else if (name == "repeat") {
      ASSIGN_OR_RETURN(double n, number(1e6));
      f.repeat = static_cast<int>(n);
    } else if (name == "upkeep-events") {
      ASSIGN_OR_RETURN(double n, number(1e8));
      f.upkeep_events = static_cast<int>(n);
    } else if (name == "sqlite-path") {
      f.sqlite_path = value;
    } else if (name == "pg") {
      f.pg = value;
    } else if (name == "clickhouse") {
      f.clickhouse = value;
    } else if (name == "json") {
      f.json = value;
    } else if (name == "only") {
      only_given = true;
      f.only.clear();
      std::string_view rest = value;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string key(rest.substr(0, comma));
        if (std::find(kEngineKeys.begin(), kEngineKeys.end(), key) == kEngineKeys.end()) {
          return absl::InvalidArgumentError("--only: unknown engine '" + key + "' (facet, sqlite, pg, clickhouse)");
        }
        f.only.insert(key);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else {
      return absl::InvalidArgumentError("unknown flag --" + name + "\n" + kUsage);
    }
  }
  if (!only_given) {
    f.only = {"facet", "sqlite"};
    if (!f.pg.empty()) f.only.insert("pg");
    if (!f.clickhouse.empty()) f.only.insert("clickhouse");
  }
  if (f.only.count("pg") && f.pg.empty()) return absl::InvalidArgumentError("--only=pg needs --pg=CONNINFO");
  if (f.only.count("clickhouse") && f.clickhouse.empty()) {
    return absl::InvalidArgumentError("--only=clickhouse needs --clickhouse=URL");
  }
  return f;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// One engine's outcome: figures, or why there are none.
struct EngineRun {
  std::string key;
  std::string name;
  std::optional<EngineTimes> times;
  absl::Status status;      // not OK: no figures
  bool not_linked = false;  // Facet's placeholder: not a failure
};

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string JsonArray(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + JsonNumber(v[i]);
  return out + "]";
}

struct Report {
  const Flags* flags;
  double generate_seconds;
  size_t dataset_bytes;
  uint64_t orders;
  uint64_t q1_reference, q2_reference;
  std::vector<EngineRun> runs;
  const EngineRun* facet = nullptr;  // when it produced figures
  const EngineRun* fastest_q1 = nullptr;
  const EngineRun* fastest_q2 = nullptr;
  bool ok = true;
};

absl::Status WriteJson(const Report& r, const std::string& path) {
  std::string j = "{\n";
  j += "  \"persons\": " + std::to_string(r.flags->persons) + ",\n";
  j += "  \"seed\": " + std::to_string(r.flags->seed) + ",\n";
  j += "  \"repeat\": " + std::to_string(r.flags->repeat) + ",\n";
  j += "  \"as_of\": " + JsonString(kBenchAsOfText) + ",\n";
  j += "  \"cores\": " + std::to_string(std::thread::hardware_concurrency()) + ",\n";
  j += "  \"generate_seconds\": " + JsonNumber(r.generate_seconds) + ",\n";
  j += "  \"dataset_bytes\": " + std::to_string(r.dataset_bytes) + ",\n";
  j += "  \"orders\": " + std::to_string(r.orders) + ",\n";
  j += "  \"questions\": {\"q1\": " + JsonString(kQ1Text) + ", \"q2\": " + JsonString(kQ2Text) + "},\n";
  j += "  \"sql\": {\"q1\": " + JsonString(QuestionSql(1)) + ", \"q2\": " + JsonString(QuestionSql(2)) + "},\n";
  j += "  \"reference\": {\"q1\": " + std::to_string(r.q1_reference) + ", \"q2\": " + std::to_string(r.q2_reference) +
       "},\n";
  j += "  \"engines\": [";
  bool first = true;
  for (const EngineRun& run : r.runs) {
    j += first ? "\n" : ",\n";
    first = false;
    j += "    {\"engine\": " + JsonString(run.name);
    if (!run.times) {
      j += ", \"status\": " + JsonString(run.not_linked ? "not linked" : "error") +
           ", \"error\": " + JsonString(run.status.ToString()) + "}";
      continue;
    }
    const EngineTimes& t = *run.times;
    auto question = [&](uint64_t count, uint64_t reference, const std::vector<double>& ms, const EngineRun* fastest,
                        const std::vector<double>* facet_ms) {
      std::string q = "{\"count\": " + std::to_string(count) +
                      ", \"correct\": " + (count == reference ? "true" : "false") +
                      ", \"median_ms\": " + JsonNumber(Median(ms)) + ", \"min_ms\": " + JsonNumber(Min(ms)) +
                      ", \"ms\": " + JsonArray(ms);
      if (facet_ms != nullptr) q += ", \"ratio_to_facet\": " + JsonNumber(Median(ms) / Median(*facet_ms));
      q += std::string(", \"fastest_peer\": ") + (fastest == &run ? "true" : "false");
      return q + "}";
    };
    const EngineTimes* facet = r.facet ? &*r.facet->times : nullptr;
    j += ", \"status\": \"ok\", \"load_seconds\": " + JsonNumber(t.load_seconds);
    j += ", \"q1\": " + question(t.q1_count, r.q1_reference, t.q1_ms, r.fastest_q1, facet ? &facet->q1_ms : nullptr);
    j += ", \"q2\": " + question(t.q2_count, r.q2_reference, t.q2_ms, r.fastest_q2, facet ? &facet->q2_ms : nullptr);
    j += ", \"notes\": " + JsonString(t.notes) + "}";
  }
  j += "\n  ],\n";
  j += "  \"fastest_peer\": {\"q1\": " + (r.fastest_q1 ? JsonString(r.fastest_q1->name) : "null") +
       ", \"q2\": " + (r.fastest_q2 ? JsonString(r.fastest_q2->name) : "null") + "},\n";
  j += std::string("  \"ok\": ") + (r.ok ? "true" : "false") + "\n}\n";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return absl::InternalError("writing " + path);
  const bool written = std::fwrite(j.data(), 1, j.size(), f) == j.size();
  if (std::fclose(f) != 0 || !written) return absl::InternalError("writing " + path);
  return absl::OkStatus();
}

void PrintTable(const Report& r) {
  std::printf("\n%-11s %8s %11s %10s %11s %10s %10s %9s %9s %9s\n", "engine", "load s", "Q1 med ms", "Q1 min ms",
              "Q2 med ms", "Q2 min ms", "Q1 count", "Q2 count", "Q1 xFacet", "Q2 xFacet");
  const EngineTimes* facet = r.facet ? &*r.facet->times : nullptr;
  for (const EngineRun& run : r.runs) {
    if (!run.times) {
      std::printf("%-11s %s\n", run.name.c_str(),
                  run.not_linked ? "not linked yet" : ("failed: " + std::string(run.status.message())).c_str());
      continue;
    }
    const EngineTimes& t = *run.times;
    char ratio1[16] = "n/a", ratio2[16] = "n/a";
    if (facet != nullptr) {
      std::snprintf(ratio1, sizeof ratio1, "%.1f", Median(t.q1_ms) / Median(facet->q1_ms));
      std::snprintf(ratio2, sizeof ratio2, "%.1f", Median(t.q2_ms) / Median(facet->q2_ms));
    }
    std::printf("%-11s %8.1f %11.3f %10.3f %11.3f %10.3f %10llu %9llu %9s %9s%s\n", run.name.c_str(), t.load_seconds,
                Median(t.q1_ms), Min(t.q1_ms), Median(t.q2_ms), Min(t.q2_ms),
                static_cast<unsigned long long>(t.q1_count), static_cast<unsigned long long>(t.q2_count), ratio1,
                ratio2, t.q1_count == r.q1_reference && t.q2_count == r.q2_reference ? "" : "  WRONG COUNT");
  }
  std::printf("reference counts: Q1 %llu, Q2 %llu\n", static_cast<unsigned long long>(r.q1_reference),
              static_cast<unsigned long long>(r.q2_reference));
  auto fastest = [](const EngineRun* run, bool q1) {
    if (run == nullptr) return std::string("none ran");
    const auto& ms = q1 ? run->times->q1_ms : run->times->q2_ms;
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s (%.3f ms)", run->name.c_str(), Median(ms));
    return std::string(buf);
  };
  std::printf("fastest peer: Q1 %s, Q2 %s\n", fastest(r.fastest_q1, true).c_str(),
              fastest(r.fastest_q2, false).c_str());
  if (facet != nullptr) {
    for (int q = 1; q <= 2; ++q) {
      const double ms = Median(q == 1 ? facet->q1_ms : facet->q2_ms);
      const EngineRun* peer = q == 1 ? r.fastest_q1 : r.fastest_q2;
      std::printf("Facet Q%d: median %.3f ms (target < 1 ms: %s)", q, ms, ms < 1.0 ? "met" : "NOT met");
      if (peer != nullptr) {
        const double speedup = Median(q == 1 ? peer->times->q1_ms : peer->times->q2_ms) / ms;
        std::printf(", %.0fx faster than %s (target >= 100x: %s)", speedup, peer->name.c_str(),
                    speedup >= 100 ? "met" : "NOT met");
      }
      std::printf("\n");
    }
  }
  std::printf("\nnotes:\n");
  for (const EngineRun& run : r.runs) {
    if (run.times && !run.times->notes.empty()) std::printf("  %s: %s\n", run.name.c_str(), run.times->notes.c_str());
  }
  std::printf(
      "times: wall clock on the client, from sending a question to holding its count; median and minimum of "
      "%d repetitions after one warm-up.\n",
      r.flags->repeat);
}

int Main(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) return ReportFlagsStatus(flags.status());
  const Flags& f = *flags;
  std::printf("segment_bench: %u persons, seed %llu, %d repetitions, %u cores, as of %s\n", f.persons,
              static_cast<unsigned long long>(f.seed), f.repeat, std::thread::hardware_concurrency(),
              std::string(kBenchAsOfText).c_str());
  std::printf("Q1: %s\nQ2: %s\n", std::string(kQ1Text).c_str(), std::string(kQ2Text).c_str());
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    double load = 0;
    if (std::fscanf(f, "%lf", &load) == 1) {
      std::printf("load average at start: %.2f (other work on the machine slows every engine)\n", load);
    }
    std::fclose(f);
  }
  std::fflush(stdout);

  Report report;
  report.flags = &f;
  const auto gen_start = SteadyClock::now();
  const BenchDataset data = GenerateBenchDataset(f.persons, f.seed);
  report.generate_seconds = std::chrono::duration<double>(SteadyClock::now() - gen_start).count();
  report.dataset_bytes = DatasetBytes(data);
  report.orders = data.order_times.size();
  report.q1_reference = CountQ1(data);
  report.q2_reference = CountQ2(data);
  std::printf(
      "data set: generated in %.2f s, %.0f MiB in arrays (%.0f bytes/person), peak RSS %.0f MiB, "
      "%llu purchases (%.1f per person)\n",
      report.generate_seconds, report.dataset_bytes / 1048576.0,
      static_cast<double>(report.dataset_bytes) / std::max<uint32_t>(f.persons, 1), PeakRssMiB(),
      static_cast<unsigned long long>(report.orders),
      static_cast<double>(report.orders) / std::max<uint32_t>(f.persons, 1));
  std::printf("reference counts from the arrays: Q1 %llu, Q2 %llu\n",
              static_cast<unsigned long long>(report.q1_reference),
              static_cast<unsigned long long>(report.q2_reference));
  std::printf(
      "peers: one wide table persons(id, age NULL, gender, city, lifetime_value, t01..t24 0/1, orders_90d, "
      "days_since_last NULL),\n       purchase aggregates precomputed as of %s; SQL condition per question:\n"
      "       Q1: %s\n       Q2: %s\n",
      std::string(kBenchAsOfText).c_str(), QuestionSql(1).c_str(), QuestionSql(2).c_str());
  std::fflush(stdout);

  std::string sqlite_path = f.sqlite_path;
  std::string sqlite_temp_dir;
  if (f.only.count("sqlite") && sqlite_path.empty()) {
    char tmpl[] = "/tmp/segment_bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::fprintf(stderr, "segment_bench: mkdtemp failed\n");
      return 1;
    }
    sqlite_temp_dir = tmpl;
    sqlite_path = sqlite_temp_dir + "/bench.db";
  }

  for (const std::string& key : kEngineKeys) {
    if (!f.only.count(key)) continue;
    EngineRun run;
    run.key = key;
    run.name = key == "facet" ? "Facet" : key == "sqlite" ? "SQLite" : key == "pg" ? "PostgreSQL" : "ClickHouse";
    std::printf("\n%s\n", run.name.c_str());
    std::fflush(stdout);
    absl::StatusOr<EngineTimes> t = key == "facet"    ? RunFacet(data, f.repeat, f.upkeep_events)
                                    : key == "sqlite" ? RunSqlite(data, sqlite_path, f.repeat)
                                    : key == "pg"     ? RunPostgres(data, f.pg, f.repeat)
                                                      : RunClickHouse(data, f.clickhouse, f.repeat);
    if (t.ok()) {
      run.times = *std::move(t);
      run.name = run.times->engine.empty() ? run.name : run.times->engine;
      std::printf("  %s: load %.1f s, Q1 median %.3f ms, Q2 median %.3f ms\n", run.name.c_str(),
                  run.times->load_seconds, Median(run.times->q1_ms), Median(run.times->q2_ms));
    } else {
      run.status = t.status();
      run.not_linked = key == "facet" && t.status().code() == absl::StatusCode::kUnimplemented;
      std::printf("  %s: %s\n", run.name.c_str(), run.status.ToString().c_str());
      if (!run.not_linked) report.ok = false;
    }
    std::fflush(stdout);
    report.runs.push_back(std::move(run));
  }
  if (!sqlite_temp_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(sqlite_temp_dir, ec);
  }

  for (const EngineRun& run : report.runs) {
    if (!run.times) continue;
    if (run.key == "facet") {
      report.facet = &run;
      continue;
    }
    if (report.fastest_q1 == nullptr || Median(run.times->q1_ms) < Median(report.fastest_q1->times->q1_ms)) {
      report.fastest_q1 = &run;
    }
    if (report.fastest_q2 == nullptr || Median(run.times->q2_ms) < Median(report.fastest_q2->times->q2_ms)) {
      report.fastest_q2 = &run;
    }
  }
  std::vector<std::string> mismatches;
  for (const EngineRun& run : report.runs) {
    if (!run.times) continue;
    if (run.times->q1_count != report.q1_reference) {
      mismatches.push_back(run.name + " answered Q1 with " + std::to_string(run.times->q1_count) + ", expected " +
                           std::to_string(report.q1_reference));
    }
    if (run.times->q2_count != report.q2_reference) {
      mismatches.push_back(run.name + " answered Q2 with " + std::to_string(run.times->q2_count) + ", expected " +
                           std::to_string(report.q2_reference));
    }
  }
  if (!mismatches.empty()) report.ok = false;

  PrintTable(report);
  if (!mismatches.empty()) {
    std::fflush(stdout);
    std::fprintf(stderr, "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
    for (const std::string& m : mismatches) std::fprintf(stderr, "!!! WRONG COUNT: %s\n", m.c_str());
    std::fprintf(stderr, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
  }
  if (!f.json.empty()) {
    if (absl::Status s = WriteJson(report, f.json); !s.ok()) {
      std::fprintf(stderr, "segment_bench: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::printf("figures written to %s\n", f.json.c_str());
  }
  return report.ok ? 0 : 1;
}

}  // namespace
}  // namespace facet::bench

int main(int argc, char** argv) { return facet::bench::Main(argc, argv); }
