// The SQL engines segment_bench compares Facet with: SQLite in-process,
// PostgreSQL over libpq and ClickHouse over HTTP.
//
// Each gets the schema most favourable to it: one wide table
//   persons(id, age NULL, gender, city, lifetime_value, t01 .. t24,
//           orders_90d, days_since_last NULL)
// with the per-person purchase aggregates precomputed as of kBenchAsOf, so
// that each question is a single-table `SELECT count(*) ... WHERE`. Each
// loads through its fastest bulk path, builds the indexes that could help
// and collects statistics; load_seconds covers all of that. Each question is
// then asked once to warm up and `repeat` times timed, wall clock on the
// client from sending the query to holding the count.
//
//   ASSIGN_OR_RETURN(EngineTimes t, RunPostgres(data, "host=127.0.0.1 port=5432", 7));
//
// Every runner replaces any `persons` table already in the target database.
// Errors: Unavailable when the engine cannot be reached, Internal when it
// rejects a statement (with its message).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "bench/segment_bench_data.h"
#include "bench/segment_bench_engine.h"

namespace facet::bench {

// The WHERE condition of question 1 (kQ1Text) or 2 (kQ2Text) over the
// persons table; the same text for all three engines.
std::string QuestionSql(int question);

// SQLite in this process, in a database file at `path` (replaced).
absl::StatusOr<EngineTimes> RunSqlite(const BenchDataset& data, const std::string& path, int repeat);

// PostgreSQL at `conninfo` (a libpq connection string).
absl::StatusOr<EngineTimes> RunPostgres(const BenchDataset& data, const std::string& conninfo, int repeat);

// ClickHouse's HTTP interface at `url` ("http://127.0.0.1:8123").
absl::StatusOr<EngineTimes> RunClickHouse(const BenchDataset& data, const std::string& url, int repeat);

}  // namespace facet::bench
