#include "bench/segment_bench_peers.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "base/status.h"
#include "client/http_client.h"

namespace facet::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

enum class SqlDialect { kSqlite, kPostgres, kClickHouse };

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

void Progress(const std::string& engine, const std::string& what) {
  std::printf("  %s: %s\n", engine.c_str(), what.c_str());
  std::fflush(stdout);
}

absl::StatusOr<uint64_t> ParseCount(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return absl::InternalError("expected a count, got '" + std::string(text.substr(0, 200)) + "'");
  }
  return n;
}

// Asks once to warm up, then `repeat` timed times; every answer must agree.
absl::Status TimeQuestion(const std::function<absl::StatusOr<uint64_t>()>& ask, int repeat, uint64_t* count,
                          std::vector<double>* ms) {
  ASSIGN_OR_RETURN(*count, ask());
  for (int i = 0; i < repeat; ++i) {
    const auto start = SteadyClock::now();
    ASSIGN_OR_RETURN(uint64_t n, ask());
    ms->push_back(SecondsSince(start) * 1000.0);
    if (n != *count) {
      return absl::InternalError("the count changed between repetitions: " + std::to_string(*count) + " then " +
                                 std::to_string(n));
    }
  }
  return absl::OkStatus();
}

std::string SelectCount(int question) { return "SELECT count(*) FROM persons WHERE " + QuestionSql(question); }

// The persons table's column definitions in `dialect`.
std::string PersonsColumns(SqlDialect dialect) {
  struct Types {
    const char *id, *age, *text, *real, *flag, *orders, *days;
  };
  const Types t = dialect == SqlDialect::kSqlite
                      ? Types{"INTEGER PRIMARY KEY", "INTEGER",          "TEXT NOT NULL", "REAL NOT NULL",
                              "INTEGER NOT NULL",    "INTEGER NOT NULL", "INTEGER"}
                  : dialect == SqlDialect::kPostgres
                      ? Types{"integer NOT NULL", "smallint",          "text NOT NULL", "double precision NOT NULL",
                              "boolean NOT NULL", "smallint NOT NULL", "integer"}
                      : Types{"UInt32", "Nullable(UInt8)", "String", "Float64", "UInt8", "UInt16", "Nullable(Int32)"};
  std::string s = "id " + std::string(t.id) + ", age " + t.age + ", gender " + t.text + ", city " + t.text +
                  ", lifetime_value " + t.real;
  for (std::string_view tag : kTagNames) s += ", " + std::string(tag) + " " + t.flag;
  s += ", orders_90d " + std::string(t.orders) + ", days_since_last " + t.days;
  return s;
}

// Appends person `p` as one tab-separated line, as PostgreSQL's COPY text
// format and ClickHouse's TabSeparated both read it (\N is NULL, 0/1 flags).
void AppendTsvRow(const BenchDataset& d, uint32_t p, std::string* out) {
  char buf[24];
  auto number = [&](int64_t v) {
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  };
  number(p);
  out->push_back('\t');
  if (d.age[p] == 0) {
    out->append("\\N");
  } else {
    number(d.age[p]);
  }
  out->append(d.gender[p] == 0 ? "\tf\t" : "\tm\t");
  out->append(kCities[d.city[p]]);
  out->push_back('\t');
  const int64_t cents = std::llround(d.lifetime_value[p] * 100.0);
  number(cents / 100);
  out->push_back('.');
  out->push_back(static_cast<char>('0' + cents % 100 / 10));
  out->push_back(static_cast<char>('0' + cents % 10));
  for (int t = 0; t < kTagCount; ++t) {
    out->push_back('\t');
    out->push_back(d.HasTag(t, p) ? '1' : '0');
  }
  out->push_back('\t');
  number(d.orders_90d[p]);
  out->push_back('\t');
  if (d.days_since_last[p] < 0) {
    out->append("\\N");
  } else {
    number(d.days_since_last[p]);
  }
  out->push_back('\n');
}

// ---------------------------------------------------------------------------
// SQLite.

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStatement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

absl::Status SqliteExec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return absl::InternalError("sqlite: " + message + " in: " + sql.substr(0, 200));
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStatement> SqlitePrepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError("sqlite: " + std::string(sqlite3_errmsg(db)) + " in: " + sql.substr(0, 200));
  }
  return SqliteStatement(stmt);
}

absl::StatusOr<uint64_t> SqliteCount(sqlite3* db, const std::string& sql) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, SqlitePrepare(db, sql));
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) {
    return absl::InternalError("sqlite: " + std::string(sqlite3_errmsg(db)) + " in: " + sql);
  }
  return static_cast<uint64_t>(sqlite3_column_int64(stmt.get(), 0));
}

absl::StatusOr<std::string> SqlitePlan(sqlite3* db, const std::string& sql) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, SqlitePrepare(db, "EXPLAIN QUERY PLAN " + sql));
  std::string plan;
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    if (!plan.empty()) plan += "; ";
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 3));
  }
  return plan;
}

absl::Status SqliteLoad(const BenchDataset& d, sqlite3* db) {
  RETURN_IF_ERROR(SqliteExec(db, "CREATE TABLE persons (" + PersonsColumns(SqlDialect::kSqlite) + ")"));
  RETURN_IF_ERROR(SqliteExec(db, "BEGIN"));
  std::string insert = "INSERT INTO persons VALUES (?";
  for (int i = 1; i < kTagCount + 7; ++i) insert += ",?";
  insert += ")";
  ASSIGN_OR_RETURN(SqliteStatement stmt, SqlitePrepare(db, insert));
  sqlite3_stmt* s = stmt.get();
  for (uint32_t p = 0; p < d.persons; ++p) {
    int col = 1;
    sqlite3_bind_int64(s, col++, p);
    if (d.age[p] == 0) {
      sqlite3_bind_null(s, col++);
    } else {
      sqlite3_bind_int(s, col++, d.age[p]);
    }
    sqlite3_bind_text(s, col++, d.gender[p] == 0 ? "f" : "m", 1, SQLITE_STATIC);
    const std::string_view city = kCities[d.city[p]];
    sqlite3_bind_text(s, col++, city.data(), static_cast<int>(city.size()), SQLITE_STATIC);
    sqlite3_bind_double(s, col++, d.lifetime_value[p]);
    for (int t = 0; t < kTagCount; ++t) sqlite3_bind_int(s, col++, d.HasTag(t, p) ? 1 : 0);
    sqlite3_bind_int(s, col++, d.orders_90d[p]);
    if (d.days_since_last[p] < 0) {
      sqlite3_bind_null(s, col++);
    } else {
      sqlite3_bind_int(s, col++, d.days_since_last[p]);
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
      return absl::InternalError("sqlite: inserting person " + std::to_string(p) + ": " + sqlite3_errmsg(db));
    }
    sqlite3_reset(s);
  }
  return SqliteExec(db, "COMMIT");
}

}  // namespace

std::string QuestionSql(int question) {
  // Flags are 0/1 integers in SQLite and ClickHouse and booleans in
  // PostgreSQL; all three read a bare flag as a condition.
  auto tag = [](int index) { return std::string(kTagNames[static_cast<size_t>(index)]); };
  const QuestionTags& q = kQuestionTags;
  if (question == 1) {
    return tag(q.a) + " AND " + tag(q.b) + " AND NOT " + tag(q.c) + " AND age BETWEEN " + std::to_string(kQ1AgeMin) +
           " AND " + std::to_string(kQ1AgeMax);
  }
  return "(" + tag(q.d) + " OR " + tag(q.e) + ") AND " + tag(q.f) + " AND NOT " + tag(q.g) + " AND orders_90d > " +
         std::to_string(kQ2OrdersAbove) + " AND days_since_last < " + std::to_string(kQ2DaysSinceLastBelow);
}

absl::StatusOr<EngineTimes> RunSqlite(const BenchDataset& d, const std::string& path, int repeat) {
  EngineTimes out;
  out.engine = "SQLite";
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open(path.c_str(), &raw);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError("sqlite: opening " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  // A throwaway database: no journal, no fsync, and a page cache (2 GiB)
  // plus memory map large enough to hold the whole table.
  RETURN_IF_ERROR(SqliteExec(db.get(),
                             "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                             "PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY; "
                             "PRAGMA cache_size = -2097152; PRAGMA mmap_size = 2147418112"));

  const auto start = SteadyClock::now();
  Progress(out.engine, "inserting " + std::to_string(d.persons) + " rows (one transaction, prepared INSERT)");
  RETURN_IF_ERROR(SqliteLoad(d, db.get()));
  const double insert_s = SecondsSince(start);
  Progress(out.engine, "inserted in " + Fixed(insert_s, 1) + " s; indexing and ANALYZE");
  // No index on age: SQLite's planner would use it for Q1's age range (over
  // a quarter of the rows) and take two to three times as long as its scan.
  RETURN_IF_ERROR(SqliteExec(db.get(), "CREATE INDEX persons_orders ON persons(orders_90d, days_since_last)"));
  // Statistics from a sample of each index, as PostgreSQL's ANALYZE takes;
  // a full ANALYZE reads the whole table and index again.
  RETURN_IF_ERROR(SqliteExec(db.get(), "PRAGMA analysis_limit = 10000; ANALYZE"));
  out.load_seconds = SecondsSince(start);

  const std::string q1 = SelectCount(1), q2 = SelectCount(2);
  ASSIGN_OR_RETURN(std::string plan1, SqlitePlan(db.get(), q1));
  ASSIGN_OR_RETURN(std::string plan2, SqlitePlan(db.get(), q2));
  Progress(out.engine, "loaded in " + Fixed(out.load_seconds, 1) + " s; asking the questions");
  RETURN_IF_ERROR(TimeQuestion([&] { return SqliteCount(db.get(), q1); }, repeat, &out.q1_count, &out.q1_ms));
  RETURN_IF_ERROR(TimeQuestion([&] { return SqliteCount(db.get(), q2); }, repeat, &out.q2_count, &out.q2_ms));

  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  out.notes = "SQLite " + std::string(sqlite3_libversion()) + ", in-process, one thread; insert " + Fixed(insert_s, 1) +
              " s + index (orders_90d, days_since_last) + ANALYZE " + "(no index on age: slower for Q1); file " +
              (ec ? std::string("?") : Fixed(static_cast<double>(file_bytes) / 1048576.0, 0)) +
              " MiB; Q1 plan: " + plan1 + "; Q2 plan: " + plan2;
  return out;
}

// ---------------------------------------------------------------------------
// PostgreSQL.

namespace {

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;
using PgResult = std::unique_ptr<PGresult, PgResultClearer>;

absl::StatusOr<PgResult> PgExec(PGconn* conn, const std::string& sql, ExecStatusType expect) {
  PgResult r(PQexec(conn, sql.c_str()));
  if (PQresultStatus(r.get()) != expect) {
    return absl::InternalError("postgres: " + std::string(PQerrorMessage(conn)) + "in: " + sql.substr(0, 200));
  }
  return r;
}

absl::Status PgCommand(PGconn* conn, const std::string& sql) { return PgExec(conn, sql, PGRES_COMMAND_OK).status(); }

absl::StatusOr<std::string> PgValue(PGconn* conn, const std::string& sql) {
  ASSIGN_OR_RETURN(PgResult r, PgExec(conn, sql, PGRES_TUPLES_OK));
  if (PQntuples(r.get()) < 1 || PQnfields(r.get()) < 1) return absl::InternalError("postgres: no rows from " + sql);
  return std::string(PQgetvalue(r.get(), 0, 0));
}

absl::StatusOr<uint64_t> PgCount(PGconn* conn, const std::string& sql) {
  ASSIGN_OR_RETURN(PgResult r, PgExec(conn, sql, PGRES_TUPLES_OK));
  if (PQntuples(r.get()) != 1) return absl::InternalError("postgres: expected one row from " + sql);
  return ParseCount(PQgetvalue(r.get(), 0, 0));
}

// The plan's node lines, without conditions, joined on one line.
absl::StatusOr<std::string> PgPlan(PGconn* conn, const std::string& sql) {
  ASSIGN_OR_RETURN(PgResult r, PgExec(conn, "EXPLAIN (COSTS OFF) " + sql, PGRES_TUPLES_OK));
  std::string plan;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::string_view line = PQgetvalue(r.get(), i, 0);
    while (!line.empty() && (line.front() == ' ' || line.front() == '-' || line.front() == '>')) line.remove_prefix(1);
    if (line.find(": ") != std::string_view::npos && line.rfind("Workers", 0) != 0) continue;
    if (!plan.empty()) plan += " <- ";
    plan += line;
  }
  return plan;
}

absl::Status PgCopy(const BenchDataset& d, PGconn* conn) {
  RETURN_IF_ERROR(PgExec(conn, "COPY persons FROM STDIN WITH (FREEZE)", PGRES_COPY_IN).status());
  std::string chunk;
  chunk.reserve(1 << 23);
  for (uint32_t p = 0; p < d.persons; ++p) {
    AppendTsvRow(d, p, &chunk);
    if (chunk.size() >= (1 << 23) - 512 || p + 1 == d.persons) {
      if (PQputCopyData(conn, chunk.data(), static_cast<int>(chunk.size())) != 1) {
        return absl::InternalError("postgres: COPY: " + std::string(PQerrorMessage(conn)));
      }
      chunk.clear();
    }
  }
  if (PQputCopyEnd(conn, nullptr) != 1) {
    return absl::InternalError("postgres: COPY end: " + std::string(PQerrorMessage(conn)));
  }
  PgResult r(PQgetResult(conn));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return absl::InternalError("postgres: COPY: " + std::string(PQerrorMessage(conn)));
  }
  while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EngineTimes> RunPostgres(const BenchDataset& d, const std::string& conninfo, int repeat) {
  EngineTimes out;
  out.engine = "PostgreSQL";
  PgConn conn(PQconnectdb(conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError("postgres: connecting to '" + conninfo + "': " + PQerrorMessage(conn.get()));
  }
  PGconn* c = conn.get();
  // Both cores for one query; no JIT, whose compile time is longer than these scans.
  RETURN_IF_ERROR(PgCommand(c, "SET max_parallel_workers_per_gather = 2"));
  RETURN_IF_ERROR(PgCommand(c, "SET jit = off"));
  RETURN_IF_ERROR(PgCommand(c, "SET maintenance_work_mem = '1GB'"));
  RETURN_IF_ERROR(PgCommand(c, "SET client_min_messages = warning"));
  ASSIGN_OR_RETURN(std::string version, PgValue(c, "SHOW server_version"));

  const auto start = SteadyClock::now();
  Progress(out.engine, "COPY " + std::to_string(d.persons) + " rows (FREEZE, table created in the same transaction)");
  RETURN_IF_ERROR(PgCommand(c, "BEGIN"));
  RETURN_IF_ERROR(PgCommand(c, "DROP TABLE IF EXISTS persons"));
  RETURN_IF_ERROR(PgCommand(c, "CREATE TABLE persons (" + PersonsColumns(SqlDialect::kPostgres) + ")"));
  RETURN_IF_ERROR(PgCopy(d, c));
  RETURN_IF_ERROR(PgCommand(c, "COMMIT"));
  const double copy_s = SecondsSince(start);
  Progress(out.engine, "copied in " + Fixed(copy_s, 1) + " s; indexing and VACUUM ANALYZE");
  // No index on age: the planner would take a bitmap scan on it for Q1's age
  // range (over a quarter of the rows), slower than the parallel scan.
  RETURN_IF_ERROR(PgCommand(c, "CREATE INDEX persons_orders ON persons(orders_90d, days_since_last)"));
  RETURN_IF_ERROR(PgCommand(c, "VACUUM ANALYZE persons"));
  out.load_seconds = SecondsSince(start);

  ASSIGN_OR_RETURN(std::string table_bytes, PgValue(c, "SELECT pg_table_size('persons')"));
  const std::string q1 = SelectCount(1), q2 = SelectCount(2);
  ASSIGN_OR_RETURN(std::string plan1, PgPlan(c, q1));
  ASSIGN_OR_RETURN(std::string plan2, PgPlan(c, q2));
  Progress(out.engine, "loaded in " + Fixed(out.load_seconds, 1) + " s; asking the questions");
  RETURN_IF_ERROR(TimeQuestion([&] { return PgCount(c, q1); }, repeat, &out.q1_count, &out.q1_ms));
  RETURN_IF_ERROR(TimeQuestion([&] { return PgCount(c, q2); }, repeat, &out.q2_count, &out.q2_ms));
  out.notes = "PostgreSQL " + version + " over libpq, up to 2 parallel workers, jit off; COPY " + Fixed(copy_s, 1) +
              " s + index (orders_90d, days_since_last) + VACUUM ANALYZE (no index on age: slower for Q1); table " +
              Fixed(std::strtod(table_bytes.c_str(), nullptr) / 1048576.0, 0) + " MiB; Q1 plan: " + plan1 +
              "; Q2 plan: " + plan2;
  return out;
}

// ---------------------------------------------------------------------------
// ClickHouse.

namespace {

absl::StatusOr<std::string> ChSend(client::HttpClient& http, const std::string& target, std::string body) {
  client::HttpRequest req;
  req.method = "POST";
  req.target = target;
  req.body = std::move(body);
  req.content_type = "text/plain";
  ASSIGN_OR_RETURN(client::HttpResponse r, http.Send(req));
  if (r.status != 200) {
    return absl::InternalError("clickhouse: HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 500));
  }
  return std::move(r.body);
}

absl::StatusOr<std::string> ChQuery(client::HttpClient& http, const std::string& sql) { return ChSend(http, "/", sql); }

}  // namespace

absl::StatusOr<EngineTimes> RunClickHouse(const BenchDataset& d, const std::string& url, int repeat) {
  EngineTimes out;
  out.engine = "ClickHouse";
  auto connected = client::HttpClient::Connect(url);
  if (!connected.ok()) return Annotate(connected.status(), "clickhouse at " + url);
  client::HttpClient& http = **connected;
  http.set_timeout_ms(600'000);
  ASSIGN_OR_RETURN(std::string version, ChQuery(http, "SELECT version()"));
  while (!version.empty() && version.back() == '\n') version.pop_back();

  const auto start = SteadyClock::now();
  Progress(out.engine, "INSERT " + std::to_string(d.persons) + " rows (TabSeparated over HTTP, 1M rows per request)");
  RETURN_IF_ERROR(ChQuery(http, "DROP TABLE IF EXISTS persons").status());
  RETURN_IF_ERROR(ChQuery(http, "CREATE TABLE persons (" + PersonsColumns(SqlDialect::kClickHouse) +
                                    ") ENGINE = MergeTree ORDER BY id")
                      .status());
  constexpr uint32_t kRowsPerInsert = 1'000'000;
  std::string body;
  for (uint32_t begin = 0; begin < d.persons; begin += kRowsPerInsert) {
    const uint32_t end = std::min(d.persons, begin + kRowsPerInsert);
    body.clear();
    for (uint32_t p = begin; p < end; ++p) AppendTsvRow(d, p, &body);
    RETURN_IF_ERROR(ChSend(http, "/?query=INSERT%20INTO%20persons%20FORMAT%20TabSeparated", body).status());
  }
  const double insert_s = SecondsSince(start);
  Progress(out.engine, "inserted in " + Fixed(insert_s, 1) + " s; OPTIMIZE TABLE persons FINAL");
  RETURN_IF_ERROR(ChQuery(http, "OPTIMIZE TABLE persons FINAL").status());
  out.load_seconds = SecondsSince(start);

  std::string disk = "?";
  if (auto bytes = ChQuery(http, "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = 'persons'");
      bytes.ok()) {
    disk = Fixed(std::strtod(bytes->c_str(), nullptr) / 1048576.0, 0);
  }
  std::string threads = "?";
  if (auto t = ChQuery(http, "SELECT value FROM system.settings WHERE name = 'max_threads'"); t.ok()) {
    threads = t->substr(0, t->find('\n'));
  }
  http.set_timeout_ms(120'000);
  const std::string q1 = SelectCount(1), q2 = SelectCount(2);
  Progress(out.engine, "loaded in " + Fixed(out.load_seconds, 1) + " s; asking the questions");
  auto count = [&](const std::string& sql) -> absl::StatusOr<uint64_t> {
    ASSIGN_OR_RETURN(std::string body, ChQuery(http, sql));
    return ParseCount(body);
  };
  RETURN_IF_ERROR(TimeQuestion([&] { return count(q1); }, repeat, &out.q1_count, &out.q1_ms));
  RETURN_IF_ERROR(TimeQuestion([&] { return count(q2); }, repeat, &out.q2_count, &out.q2_ms));
  out.notes = "ClickHouse " + version + " over HTTP, MergeTree ORDER BY id, max_threads " + threads + "; INSERT " +
              Fixed(insert_s, 1) + " s + OPTIMIZE FINAL; " + disk + " MiB on disk";
  return out;
}

}  // namespace facet::bench
