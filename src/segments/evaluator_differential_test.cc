// Differential test: random expressions over random persons, evaluated by
// the engine and by an independent oracle, SQL over the same data in SQLite.
// Every leaf of the SQL is made 0/1 (never NULL) so that NOT is the
// complement, as the language defines it.
#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "segments/catalog.h"
#include "segments/evaluator.h"
#include "segments/parser.h"
#include "store/mem_kv_store.h"

namespace facet::segments {
namespace {

constexpr TimeMs kDay = 86400000;
constexpr TimeMs kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string JsonString(const std::string& s) { return "\"" + s + "\""; }

std::string Num(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

double Haversine(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kRad = std::numbers::pi / 180.0;
  double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371008.8 * std::asin(std::min(1.0, std::sqrt(a)));
}

void SqlDistance(sqlite3_context* ctx, int, sqlite3_value** v) {
  if (sqlite3_value_type(v[0]) == SQLITE_NULL) return sqlite3_result_null(ctx);
  sqlite3_result_double(ctx, Haversine(sqlite3_value_double(v[0]), sqlite3_value_double(v[1]),
                                       sqlite3_value_double(v[2]), sqlite3_value_double(v[3])));
}

const std::vector<std::string> kCities = {"佛山", "广州", "深圳", "Beijing", "上海"};
const std::vector<std::string> kCategories = {"lens", "solution", "frames", "镜片"};
const std::vector<std::string> kEvents = {"Order Completed", "Product Viewed", "Signed Up"};
const std::vector<std::string> kChannels = {"web", "app", "mini_program", "pos"};
const std::vector<std::string> kTraitKeys = {"age", "city", "gender", "vip", "score", "interests"};

// One random world, loaded into both the engine and SQLite.
class World {
 public:
  World(uint64_t seed, int persons) : rng_(seed), persons_(persons) {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    sqlite3_create_function(db_, "dist", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, SqlDistance, nullptr, nullptr);
    Exec("CREATE TABLE traits(person INTEGER, key TEXT, kind TEXT, v)");
    Exec("CREATE TABLE arr(person INTEGER, key TEXT, kind TEXT, v)");
    Exec(
        "CREATE TABLE events(seq INTEGER PRIMARY KEY, person INTEGER, name TEXT, type TEXT, t INTEGER,"
        " rk TEXT, rv, ck TEXT, cv, qty, channel TEXT)");
    Exec("CREATE TABLE persons(id INTEGER PRIMARY KEY, lat REAL, lon REAL)");
    Exec("CREATE TABLE manual(tag TEXT, person INTEGER)");
    Exec("BEGIN");
    for (int p = 0; p < persons; ++p) AddPerson(p);
    Exec("COMMIT");
    Exec("CREATE INDEX ev ON events(person, name)");
    Exec("CREATE INDEX tr ON traits(person, key)");
  }
  ~World() { sqlite3_close(db_); }

  PersonTable& table() { return table_; }
  const std::map<std::string, bitmap::Bitmap>& manual() const { return manual_; }
  std::mt19937_64& rng() { return rng_; }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << "\n" << sql;
  }

  std::vector<PersonId> Query(const std::string& where) {
    std::string sql = "SELECT id FROM persons p WHERE " + where + " ORDER BY id";
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db_) << "\n" << sql;
    std::vector<PersonId> out;
    while (st && sqlite3_step(st) == SQLITE_ROW) out.push_back(static_cast<PersonId>(sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    return out;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Trait(std::map<std::string, profiles::TraitValue, std::less<>>* traits, PersonId p, const std::string& key,
             const std::string& json, const std::string& kind, const std::string& sql_value) {
    (*traits)[key].json = json;
    Exec("INSERT INTO traits VALUES(" + std::to_string(p) + "," + Quote(key) + "," + Quote(kind) + "," + sql_value +
         ")");
  }

  void AddPerson(PersonId p) {
    std::map<std::string, profiles::TraitValue, std::less<>> traits;
    if (Chance(0.85)) {
      if (Chance(0.9)) {
        int age = 15 + Pick(60);
        Trait(&traits, p, "age", std::to_string(age), "n", std::to_string(age));
      } else {
        Trait(&traits, p, "age", "\"30\"", "s", "'30'");
      }
    }
    if (Chance(0.8)) {
      const std::string& c = kCities[Pick(static_cast<int>(kCities.size()))];
      Trait(&traits, p, "city", JsonString(c), "s", Quote(c));
    }
    if (Chance(0.7)) {
      std::string g = Chance(0.5) ? "f" : "m";
      Trait(&traits, p, "gender", JsonString(g), "s", Quote(g));
    }
    if (Chance(0.6)) {
      bool b = Chance(0.4);
      Trait(&traits, p, "vip", b ? "true" : "false", "b", b ? "1" : "0");
    }
    if (Chance(0.05)) Trait(&traits, p, "vip", "null", "null", "NULL");
    if (traits.count("vip") && traits["vip"].json == "null") {
      traits.erase("vip");
      Exec("DELETE FROM traits WHERE person=" + std::to_string(p) + " AND key='vip'");
    }
    if (Chance(0.7)) {
      double s = std::round(std::uniform_real_distribution<double>(-50, 500)(rng_) * 4) / 4;
      Trait(&traits, p, "score", Num(s), "n", Num(s));
    }
    if (Chance(0.5)) {
      std::string json = "[";
      Exec("INSERT INTO traits VALUES(" + std::to_string(p) + ",'interests','a',NULL)");
      int n = Pick(3);
      for (int i = 0; i < n; ++i) {
        const std::string& c = kCategories[Pick(static_cast<int>(kCategories.size()))];
        json += (i ? "," : "") + JsonString(c);
        Exec("INSERT INTO arr VALUES(" + std::to_string(p) + ",'interests','s'," + Quote(c) + ")");
      }
      if (Chance(0.3)) {
        json += std::string(n ? "," : "") + "7";
        Exec("INSERT INTO arr VALUES(" + std::to_string(p) + ",'interests','n',7)");
      }
      traits["interests"].json = json + "]";
    }
    table_.Touch(p);
    table_.SetTraits(p, traits);

    std::string lat = "NULL", lon = "NULL";
    int events = Pick(9);
    for (int i = 0; i < events; ++i) {
      profiles::Event e;
      e.seq = ++seq_;
      e.person = p;
      e.type = Chance(0.85) ? profiles::EventType::kTrack : profiles::EventType::kPage;
      e.name = e.type == profiles::EventType::kTrack ? kEvents[Pick(static_cast<int>(kEvents.size()))] : "Home";
      e.timestamp = kT0 - Pick(400) * kDay - Pick(static_cast<int>(kDay)) + (Chance(0.05) ? 30 * kDay : 0);
      std::string props = "{";
      std::string rk = "NULL", rv = "NULL", ck = "NULL", cv = "NULL", qty = "NULL";
      if (Chance(0.8)) {
        if (Chance(0.9)) {
          double r = std::round(std::uniform_real_distribution<double>(1, 400)(rng_) * 100) / 100;
          props += "\"revenue\":" + Num(r);
          rk = "'n'";
          rv = Num(r);
        } else {
          props += "\"revenue\":\"12\"";
          rk = "'s'";
          rv = "'12'";
        }
      }
      if (Chance(0.7)) {
        const std::string& c = kCategories[Pick(static_cast<int>(kCategories.size()))];
        props += std::string(props.size() > 1 ? "," : "") + "\"category\":" + JsonString(c);
        ck = "'s'";
        cv = Quote(c);
      }
      if (Chance(0.4)) {
        int q = 1 + Pick(4);
        props += std::string(props.size() > 1 ? "," : "") + "\"detail\":{\"qty\":" + std::to_string(q) + "}";
        qty = std::to_string(q);
      }
      e.properties = props + "}";
      std::string channel = "NULL";
      if (Chance(0.6)) {
        const std::string& c = kChannels[Pick(static_cast<int>(kChannels.size()))];
        e.context = "{\"channel\":" + JsonString(c) + ",\"ip\":\"1.2.3.4\"}";
        channel = Quote(c);
      }
      if (Chance(0.3)) {
        profiles::Location loc;
        loc.latitude = 22.9 + std::uniform_real_distribution<double>(0, 0.3)(rng_);
        loc.longitude = 113.0 + std::uniform_real_distribution<double>(0, 0.3)(rng_);
        e.location = loc;
      }
      table_.AddEvent(p, e);
      Exec("INSERT INTO events VALUES(" + std::to_string(e.seq) + "," + std::to_string(p) + "," + Quote(e.name) + "," +
           (e.type == profiles::EventType::kTrack ? "'track'" : "'page'") + "," + std::to_string(e.timestamp) + "," +
           rk + "," + rv + "," + ck + "," + cv + "," + qty + "," + channel + ")");
    }
    if (const auto* row = table_.Get(p); row && !std::isnan(row->latitude)) {
      lat = Num(row->latitude);
      lon = Num(row->longitude);
    }
    Exec("INSERT INTO persons VALUES(" + std::to_string(p) + "," + lat + "," + lon + ")");
    for (const char* tag : {"m1", "m2"}) {
      if (Chance(0.3)) {
        manual_[tag].Add(p);
        Exec("INSERT INTO manual VALUES(" + Quote(tag) + "," + std::to_string(p) + ")");
      }
    }
  }

  std::mt19937_64 rng_;
  int persons_;
  sqlite3* db_ = nullptr;
  PersonTable table_;
  std::map<std::string, bitmap::Bitmap> manual_;
  EventSeq seq_ = 0;
};

// Random expressions, as segment-language text and as SQL over World's
// tables (p = the person row; :as_of substituted).
class ExprGen {
 public:
  ExprGen(std::mt19937_64& rng, TimeMs as_of) : rng_(rng), as_of_(std::to_string(as_of)) {}

  struct Out {
    std::string text, sql;
  };

  Out Expr(int depth) {
    int r = Pick(depth <= 0 ? 6 : 9);
    if (r >= 6) {
      if (r == 8) {
        Out a = Expr(depth - 1);
        return {"NOT (" + a.text + ")", "(NOT " + a.sql + ")"};
      }
      int n = 2 + Pick(2);
      std::string op = r == 6 ? " AND " : " OR ";
      Out out{"(", "("};
      for (int i = 0; i < n; ++i) {
        Out c = Expr(depth - 1);
        out.text += (i ? op : "") + c.text;
        out.sql += (i ? op : "") + c.sql;
      }
      return {out.text + ")", out.sql + ")"};
    }
    if (r <= 2) return TraitPredicate();
    if (r == 3 || r == 4) return EventPredicate();
    return Other();
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  template <typename T>
  const T& Of(const std::vector<T>& v) {
    return v[Pick(static_cast<int>(v.size()))];
  }
  static std::string Leaf(const std::string& pred) { return "COALESCE((" + pred + "), 0)"; }

  struct Lit {
    std::string text, sql, kind;  // kind: n s b
  };
  Lit NumberLit(int lo, int hi) {
    int v = lo + Pick(hi - lo + 1);
    return {std::to_string(v), std::to_string(v), "n"};
  }
  Lit LiteralFor(const std::string& key) {
    int r = Pick(10);
    if (r == 0) return {"\"30\"", "'30'", "s"};
    if (r == 1) return {"TRUE", "1", "b"};
    if (key == "age") return NumberLit(15, 75);
    if (key == "score") return NumberLit(-50, 500);
    if (key == "vip") return Pick(2) ? Lit{"true", "1", "b"} : Lit{"FALSE", "0", "b"};
    if (key == "gender") return Pick(2) ? Lit{"\"f\"", "'f'", "s"} : Lit{"\"m\"", "'m'", "s"};
    if (key == "interests") {
      const std::string& c = Of(kCategories);
      return {JsonString(c), Quote(c), "s"};
    }
    const std::string& c = Of(kCities);
    return {JsonString(c), Quote(c), "s"};
  }

  // SQL for a trait of kind/value columns k and v.
  static std::string TraitSub(const std::string& key, const std::string& col) {
    return "(SELECT " + col + " FROM traits WHERE person=p.id AND key=" + Quote(key) + ")";
  }
  static std::string Eq(const std::string& k, const std::string& v, const Lit& l) {
    return "(" + k + "=" + Quote(l.kind) + " AND " + v + "=" + l.sql + ")";
  }

  Out TraitPredicate() {
    std::string key = Of(kTraitKeys);
    std::string k = TraitSub(key, "kind"), v = TraitSub(key, "v");
    std::string text = "trait." + key;
    std::string present = "(" + k + " IS NOT NULL)";
    int r = Pick(7);
    if (r == 0) {  // IS [NOT] NULL
      bool neg = Pick(2);
      return {text + (neg ? " IS NOT NULL" : " IS NULL"), Leaf(neg ? present : "NOT " + present)};
    }
    if (r == 1) {  // [NOT] IN
      bool neg = Pick(2);
      int n = 1 + Pick(3);
      std::string t = text + (neg ? " NOT IN (" : " IN ("), any = "(0";
      for (int i = 0; i < n; ++i) {
        Lit l = LiteralFor(key);
        t += (i ? ", " : "") + l.text;
        any += " OR " + Eq(k, v, l);
      }
      any += ")";
      return {t + ")", Leaf(neg ? "(" + present + " AND NOT " + any + ")" : any)};
    }
    if (r == 2) {  // [NOT] BETWEEN
      bool neg = Pick(2);
      Lit a = LiteralFor(key), b = LiteralFor(key);
      if (a.kind == "b") a = NumberLit(20, 60);
      if (a.kind != b.kind) b = a;
      std::string cmp = "(" + k + "=" + Quote(a.kind) + " AND " + (a.kind == "b" ? "0" : "1") + ")";
      std::string in = "(" + v + " >= " + a.sql + " AND " + v + " <= " + b.sql + ")";
      return {text + (neg ? " NOT BETWEEN " : " BETWEEN ") + a.text + " AND " + b.text,
              Leaf("(" + cmp + " AND " + (neg ? "NOT " : "") + in + ")")};
    }
    if (r == 3) {  // [NOT] CONTAINS
      bool neg = Pick(2);
      Lit l = Pick(4) ? LiteralFor(key) : Lit{"\"佛\"", "'佛'", "s"};
      if (l.kind != "s") l = {"\"a\"", "'a'", "s"};  // CONTAINS takes a string
      std::string arr = "EXISTS (SELECT 1 FROM arr WHERE person=p.id AND key=" + Quote(key) +
                        " AND kind=" + Quote(l.kind) + " AND v=" + l.sql + ")";
      std::string str = l.kind == "s" ? "instr(" + v + ", " + l.sql + ") > 0" : "0";
      std::string found = "(CASE " + k + " WHEN 'a' THEN " + arr + " WHEN 's' THEN " + str + " ELSE NULL END)";
      std::string sql = neg ? "(" + present + " AND (" + k + " NOT IN ('a','s') OR NOT " + found + "))" : found;
      return {text + (neg ? " NOT CONTAINS " : " CONTAINS ") + l.text, Leaf(sql)};
    }
    // comparison
    static const std::vector<std::string> ops = {"=", "!=", "<", "<=", ">", ">="};
    std::string op = Of(ops);
    Lit l = LiteralFor(key);
    if (l.kind == "b" && op != "=" && op != "!=") op = "=";  // TRUE/FALSE take = and != only
    std::string sql;
    if (op == "=") {
      sql = Eq(k, v, l);
    } else if (op == "!=") {
      sql = "(" + present + " AND NOT " + Eq(k, v, l) + ")";
    } else if (l.kind == "b") {
      sql = "0";
    } else {
      sql = "(" + k + "=" + Quote(l.kind) + " AND " + v + " " + op + " " + l.sql + ")";
    }
    return {text + " " + op + " " + l.text, Leaf(sql)};
  }

  struct Filter {
    std::string text, sql;  // sql: condition on events row e
  };
  Filter EventFilter() {
    std::string name = Pick(8) == 0 ? "*" : Of(kEvents);
    Filter f{JsonString(name), name == "*" ? "e.type='track'" : "e.type='track' AND e.name=" + Quote(name)};
    if (Pick(3) == 0) {
      int r = Pick(4);
      if (r == 0) {
        int x = Pick(300);
        f.text += " WHERE properties.revenue > " + std::to_string(x);
        f.sql += " AND COALESCE(e.rk='n' AND e.rv > " + std::to_string(x) + ", 0)";
      } else if (r == 1) {
        const std::string& c = Of(kCategories);
        f.text += " WHERE properties.category = " + JsonString(c);
        f.sql += " AND COALESCE(e.ck='s' AND e.cv = " + Quote(c) + ", 0)";
      } else if (r == 2) {
        const std::string& c = Of(kCategories);
        f.text += " WHERE NOT properties.category IN (" + JsonString(c) + ") OR properties.detail.qty >= 2";
        f.sql += " AND (NOT COALESCE(e.ck='s' AND e.cv = " + Quote(c) + ", 0) OR COALESCE(e.qty >= 2, 0))";
      } else {
        f.text += " WHERE properties.revenue IS NULL";
        f.sql += " AND e.rk IS NULL";
      }
    }
    return f;
  }
  std::string Window(std::string* sql) {
    if (Pick(3) == 0) {
      *sql = "e.t <= " + as_of_;
      return "";
    }
    int r = Pick(3);
    TimeMs ms = r == 0 ? (1 + Pick(400)) * kDay : r == 1 ? (1 + Pick(200)) * 3600000LL : (1 + Pick(300)) * 60000LL;
    std::string unit = r == 0 ? "d" : r == 1 ? "h" : "m";
    TimeMs n = r == 0 ? ms / kDay : r == 1 ? ms / 3600000 : ms / 60000;
    *sql = "e.t <= " + as_of_ + " AND e.t > " + as_of_ + " - " + std::to_string(ms);
    return ", " + std::to_string(n) + unit;
  }

  Out EventPredicate() {
    Filter f = EventFilter();
    std::string wsql;
    std::string w = Window(&wsql);
    std::string from = " FROM events e WHERE e.person=p.id AND " + f.sql + " AND " + wsql;
    static const std::vector<std::string> ops = {"=", "!=", "<", "<=", ">", ">="};
    std::string op = Of(ops);
    std::string sqlop = op;
    int r = Pick(7);
    std::string text, value;
    int lit = Pick(4);
    if (r == 0) {
      text = "count(" + f.text + w + ")";
      value = "(SELECT count(*)" + from + ")";
    } else if (r <= 3) {
      static const std::vector<std::string> fns = {"sum", "avg", "min", "max"};
      std::string fn = Of(fns);
      text = fn + "(" + f.text + ", properties.revenue" + w + ")";
      value =
          "(SELECT " + std::string(fn == "sum" ? "COALESCE(sum(e.rv), 0)" : fn + "(e.rv)") + from + " AND e.rk='n')";
      lit = Pick(500);
    } else if (r == 4) {
      bool last = Pick(2);
      text = std::string(last ? "days_since_last(" : "days_since_first(") + f.text + w + ")";
      value = "(SELECT (" + as_of_ + " - " + (last ? "max" : "min") + "(e.t)) / 86400000" + from + ")";
      lit = Pick(400);
    } else if (r == 5) {
      int a = Pick(24), b = (a + 1 + Pick(23)) % 24;
      text = "hour_share(" + f.text + ", " + std::to_string(a) + ", " + std::to_string(b) + w + ")";
      std::string hour = "(((e.t + 28800000) % 86400000) / 3600000)";
      std::string in = a < b
                           ? "(" + hour + " >= " + std::to_string(a) + " AND " + hour + " < " + std::to_string(b) + ")"
                           : "(" + hour + " >= " + std::to_string(a) + " OR " + hour + " < " + std::to_string(b) + ")";
      value = "(SELECT avg(CASE WHEN " + in + " THEN 1.0 ELSE 0.0 END)" + from + ")";
      static const std::vector<std::string> shares = {"0", "0.25", "0.5", "1"};
      std::string s = Of(shares);
      return Compare(text, value, op, s, s, true);
    } else {
      // IS [NOT] NULL on an aggregate
      text = "avg(" + f.text + ", properties.revenue" + w + ")";
      value = "(SELECT avg(e.rv)" + from + " AND e.rk='n')";
      bool neg = Pick(2);
      return {text + (neg ? " IS NOT NULL" : " IS NULL"), Leaf(value + (neg ? " IS NOT NULL" : " IS NULL"))};
    }
    return Compare(text, value, op, std::to_string(lit), std::to_string(lit), true);
  }

  Out Compare(const std::string& text, const std::string& value, const std::string& op, const std::string& lit_text,
              const std::string& lit_sql, bool numeric) {
    if (Pick(6) == 0) {
      int lo = Pick(5), hi = lo + Pick(20);
      return {text + " BETWEEN " + std::to_string(lo) + " AND " + std::to_string(hi),
              Leaf(value + " BETWEEN " + std::to_string(lo) + " AND " + std::to_string(hi))};
    }
    return {text + " " + op + " " + lit_text, Leaf(value + " " + op + " " + lit_sql)};
  }

  Out Other() {
    int r = Pick(5);
    if (r == 0) {
      std::string tag = Pick(2) ? "m1" : "m2";
      return {"tag(\"" + tag + "\")", "(p.id IN (SELECT person FROM manual WHERE tag=" + Quote(tag) + "))"};
    }
    if (r == 1) {
      double lat = 23.0 + Pick(10) / 100.0, lon = 113.1 + Pick(10) / 100.0;
      int km = 1 + Pick(20);
      return {"within(" + Num(lat) + ", " + Num(lon) + ", " + std::to_string(km) + "km)",
              Leaf("dist(p.lat, p.lon, " + Num(lat) + ", " + Num(lon) + ") <= " + std::to_string(km * 1000))};
    }
    if (r == 2) {
      Filter a = EventFilter(), b = EventFilter();
      std::string wsql;
      std::string w = Window(&wsql);
      int gap = 1 + Pick(30);
      std::string wa = wsql, wb = wsql;
      for (auto* s : {&wa, &wb}) {
        size_t pos;
        while ((pos = s->find("e.t")) != std::string::npos) s->replace(pos, 3, s == &wa ? "a.t" : "b.t");
      }
      auto rename = [](std::string s, const std::string& to) {
        size_t pos;
        while ((pos = s.find("e.")) != std::string::npos) s.replace(pos, 2, to + ".");
        return s;
      };
      std::string sql =
          "EXISTS (SELECT 1 FROM events a, events b WHERE a.person=p.id AND b.person=p.id AND a.seq != b.seq AND " +
          rename(a.sql, "a") + " AND " + rename(b.sql, "b") + " AND " + wa + " AND " + wb +
          " AND b.t >= a.t AND b.t - a.t <= " + std::to_string(gap * kDay) + ")";
      return {"sequence(" + a.text + ", " + b.text + ", " + std::to_string(gap) + "d" + w + ")", Leaf(sql)};
    }
    bool first = r == 3;
    const std::string& c = Of(kChannels);
    std::string sub = "(SELECT channel FROM events e WHERE e.person=p.id AND e.t <= " + as_of_ +
                      " AND e.channel IS NOT NULL ORDER BY e.t " + (first ? "ASC" : "DESC") + ", e.seq " +
                      (first ? "ASC" : "DESC") + " LIMIT 1)";
    bool ne = Pick(3) == 0;
    return {std::string(first ? "first_touch" : "last_touch") + ".channel " + (ne ? "!= " : "= ") + JsonString(c),
            Leaf(sub + (ne ? " != " : " = ") + Quote(c))};
  }

  std::mt19937_64& rng_;
  std::string as_of_;
};

class ManualRefs : public RefResolver {
 public:
  explicit ManualRefs(const std::map<std::string, bitmap::Bitmap>& manual) {
    for (const auto& [name, b] : manual) {
      ids_[name] = static_cast<uint32_t>(bitmaps_.size());
      bitmaps_.push_back(b);
    }
  }
  RefLookup Lookup() {
    return [this](Expr::Kind, std::string_view name) -> absl::StatusOr<uint32_t> {
      auto it = ids_.find(std::string(name));
      if (it == ids_.end()) {
        ids_[std::string(name)] = static_cast<uint32_t>(bitmaps_.size());
        bitmaps_.emplace_back();
        return static_cast<uint32_t>(bitmaps_.size() - 1);
      }
      return it->second;
    };
  }
  bitmap::Bitmap Members(uint32_t ref, TimeMs, const bitmap::Bitmap& candidates) override {
    return bitmaps_[ref] & candidates;
  }
  bool Contains(uint32_t ref, PersonId person, TimeMs, TimeMs*) override { return bitmaps_[ref].Contains(person); }
  const bitmap::Bitmap* LiveMembers(uint32_t ref) override { return live_ ? &bitmaps_[ref] : nullptr; }
  bool live_ = false;

 private:
  std::map<std::string, uint32_t> ids_;
  std::vector<bitmap::Bitmap> bitmaps_;
};

TEST(EvaluatorDifferentialTest, RandomExpressionsAgreeWithSqlite) {
  constexpr int kWorlds = 4;
  constexpr int kExprsPerWorld = 400;
  int checked = 0, nonempty = 0;
  for (int w = 0; w < kWorlds; ++w) {
    World world(1000 + w, 250);
    ManualRefs refs(world.manual());
    for (int i = 0; i < kExprsPerWorld; ++i) {
      TimeMs as_of = kT0 - static_cast<TimeMs>(world.rng()() % 200) * kDay - static_cast<TimeMs>(world.rng()() % kDay);
      ExprGen gen(world.rng(), as_of);
      ExprGen::Out e = gen.Expr(static_cast<int>(world.rng()() % 4));
      SCOPED_TRACE(e.text);
      ParseError err;
      absl::StatusOr<Expr> parsed = Parse(e.text, &err);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      absl::StatusOr<CompiledExpr> compiled = Compile(*parsed, world.table(), refs.Lookup());
      ASSERT_TRUE(compiled.ok()) << compiled.status();
      std::vector<PersonId> want = world.Query(e.sql);
      refs.live_ = i % 2 == 0;  // references as live bitmaps (the fused path) or not
      bitmap::Bitmap got = compiled->Select(world.table().live(), as_of, &refs);
      ASSERT_EQ(got.ToVector(), want) << "SQL: " << e.sql;
      // Point evaluation agrees with set evaluation.
      for (PersonId p = 0; p < 250; p += 7) {
        ASSERT_EQ(compiled->Matches(p, as_of, &refs), got.Contains(p)) << "person " << p;
      }
      ++checked;
      if (!want.empty() && want.size() < 250) ++nonempty;
    }
  }
  EXPECT_EQ(checked, kWorlds * kExprsPerWorld);
  // The generator must produce selective expressions, not only all/none.
  EXPECT_GT(nonempty, checked / 3);
}

// Live memberships kept per event, per timer, per merge, equal a full
// recompute at the same instant, and survive a restart.
TEST(CatalogDifferentialTest, IncrementalMembershipEqualsRecompute) {
  for (uint64_t seed : {7u, 8u, 9u}) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    store::MemKvStore kv;
    PersonTable table;
    Catalog catalog(kv, table);
    constexpr int kPersons = 150;
    TimeMs now = kT0;
    store::WriteBatch batch;
    for (PersonId p = 0; p < kPersons; ++p) {
      std::map<std::string, profiles::TraitValue, std::less<>> traits;
      if (pick(5)) traits["age"].json = std::to_string(15 + pick(60));
      if (pick(4)) traits["city"].json = JsonString(kCities[pick(static_cast<int>(kCities.size()))]);
      if (pick(3)) traits["vip"].json = pick(2) ? "true" : "false";
      table.Touch(p);
      table.SetTraits(p, traits);
    }
    for (const char* m : {"m1", "m2"}) {
      TagDef def;
      def.name = m;
      def.kind = TagKind::kManual;
      ASSERT_TRUE(catalog.PutTag(def, now, &batch).ok());
      std::vector<PersonId> members;
      for (PersonId p = 0; p < kPersons; ++p) {
        if (pick(4) == 0) members.push_back(p);
      }
      ASSERT_TRUE(catalog.AddMembers(m, members, now, &batch).ok());
    }
    // Rule tags from random expressions, then segments over them.
    std::vector<std::pair<std::string, std::string>> rules;  // name, text
    for (int i = 0; i < 24; ++i) {
      ExprGen gen(rng, now);
      std::string text = gen.Expr(pick(3)).text;
      TagDef def;
      def.name = "t" + std::to_string(i);
      def.rule = text;
      absl::Status st = catalog.PutTag(def, now, &batch);
      ASSERT_TRUE(st.ok()) << st << " " << text;
      rules.emplace_back(def.name, text);
    }
    for (int i = 0; i < 6; ++i) {
      SegmentDef def;
      def.name = "s" + std::to_string(i);
      def.expression = "tag(\"t" + std::to_string(pick(24)) + "\") OR (tag(\"t" + std::to_string(pick(24)) +
                       "\") AND NOT tag(\"m1\"))";
      if (i > 0) def.expression += " OR segment(\"s" + std::to_string(i - 1) + "\")";
      ASSERT_TRUE(catalog.PutSegment(def, now, &batch).ok());
    }
    // Live count columns that days_since_last comparisons are answered from.
    for (const char* rule : {R"(count("Order Completed", 31d) > 100)",
                             R"(count("Order Completed" WHERE properties.revenue > 100, 31d) > 100)"}) {
      TagDef def;
      def.name = "live" + std::to_string(rules.size());
      def.rule = rule;
      ASSERT_TRUE(catalog.PutTag(def, now, &batch).ok());
      rules.emplace_back(def.name, rule);
    }
    const std::vector<std::string> recent = {
        R"(days_since_last("Order Completed") <= 30)", R"(days_since_last("Order Completed") < 30.5)",
        R"(tag("m1") AND days_since_last("Order Completed" WHERE properties.revenue > 100, 60d) < 31)",
        R"(NOT days_since_last("Order Completed") <= 30)"};
    auto check = [&](const std::string& when) {
      for (const std::string& text : recent) {
        absl::StatusOr<bitmap::Bitmap> want = catalog.Evaluate(text, now, now);
        absl::StatusOr<bitmap::Bitmap> live = catalog.Evaluate(text, std::nullopt, now);
        absl::StatusOr<uint64_t> count = catalog.Count(text, std::nullopt, now);
        ASSERT_TRUE(want.ok() && live.ok() && count.ok());
        ASSERT_EQ(live->ToVector(), want->ToVector()) << when << " (live): " << text;
        ASSERT_EQ(*count, want->Cardinality()) << when << " (count): " << text;
      }
      for (const auto& [name, text] : rules) {
        absl::StatusOr<bitmap::Bitmap> want = catalog.Evaluate(text, now, now);
        ASSERT_TRUE(want.ok()) << want.status();
        ASSERT_EQ((*catalog.TagMembers(name))->ToVector(), want->ToVector()) << when << ": " << name << " = " << text;
        // At the live instant, from live members and live aggregate columns.
        absl::StatusOr<bitmap::Bitmap> live = catalog.Evaluate(text, std::nullopt, now);
        ASSERT_TRUE(live.ok()) << live.status();
        ASSERT_EQ(live->ToVector(), want->ToVector()) << when << " (live): " << text;
      }
      for (const SegmentDef& seg : catalog.ListSegments()) {
        absl::StatusOr<bitmap::Bitmap> want = catalog.Evaluate(seg.expression, now, now);
        ASSERT_EQ((*catalog.SegmentMembers(seg.name))->ToVector(), want->ToVector()) << when << ": " << seg.name;
      }
      // One person's memberships (kept per person) agree with the bitmaps.
      for (PersonId p = 0; p < 2 * kPersons; ++p) {
        std::vector<std::string> tags_in, segments_in, want_tags, want_segments;
        catalog.MembershipOf(p, &tags_in, &segments_in);
        for (const TagDef& t : catalog.ListTags()) {
          if ((*catalog.TagMembers(t.name))->Contains(p)) want_tags.push_back(t.name);
        }
        for (const SegmentDef& seg : catalog.ListSegments()) {
          if ((*catalog.SegmentMembers(seg.name))->Contains(p)) want_segments.push_back(seg.name);
        }
        std::sort(tags_in.begin(), tags_in.end());
        std::sort(segments_in.begin(), segments_in.end());
        std::sort(want_tags.begin(), want_tags.end());
        std::sort(want_segments.begin(), want_segments.end());
        ASSERT_EQ(tags_in, want_tags) << when << ": tags of person " << p;
        ASSERT_EQ(segments_in, want_segments) << when << ": segments of person " << p;
      }
    };
    check("after definition");
    EventSeq seq = 0;
    std::vector<PersonId> roots, parent;
    for (PersonId p = 0; p < kPersons; ++p) {
      roots.push_back(p);
      parent.push_back(p);
    }
    for (int i = 0; i < 1500; ++i) {
      now += pick(6) * 3600000LL + pick(3600000);
      PersonId p = roots[pick(static_cast<int>(roots.size()))];
      if (pick(25) == 0) {  // someone new
        p = static_cast<PersonId>(parent.size());
        parent.push_back(p);
        roots.push_back(p);
      }
      int r = pick(40);
      if (r == 0 && roots.size() > 2) {  // merge two persons
        size_t j = static_cast<size_t>(pick(static_cast<int>(roots.size())));
        PersonId absorbed = roots[j];
        if (absorbed == p) continue;
        roots.erase(roots.begin() + static_cast<ptrdiff_t>(j));
        parent[absorbed] = p;
        table.Merge(p, absorbed);
        catalog.OnMerge(p, absorbed, now, &batch);
      } else if (r == 1) {  // a trait changes
        std::map<std::string, profiles::TraitValue, std::less<>> traits;
        traits["age"].json = std::to_string(15 + pick(60));
        traits["city"].json = JsonString(kCities[pick(static_cast<int>(kCities.size()))]);
        std::vector<uint32_t> keys;
        table.SetTraits(p, traits, &keys);
        catalog.OnEvent(p, StringPool::kNone, keys, false, now, &batch);
      } else if (r == 2) {  // a rule tag is redefined, or deleted and defined anew
        auto& [name, text] = rules[static_cast<size_t>(pick(24))];
        ExprGen gen(rng, now);
        TagDef def;
        def.name = name;
        def.rule = gen.Expr(pick(3)).text;
        if (pick(2) && catalog.DeleteTag(name, &batch).ok()) {
          // A definition defined and deleted meanwhile takes the freed slot.
          TagDef scratch;
          scratch.name = "scratch";
          scratch.rule = R"(trait.age > 40)";
          ASSERT_TRUE(catalog.PutTag(scratch, now, &batch).ok());
          ASSERT_TRUE(catalog.DeleteTag("scratch", &batch).ok());
        }
        absl::Status st = catalog.PutTag(def, now, &batch);
        ASSERT_TRUE(st.ok()) << st << " " << def.rule;
        text = def.rule;
      } else {
        profiles::Event e;
        e.seq = ++seq;
        e.person = p;
        e.type = pick(8) ? profiles::EventType::kTrack : profiles::EventType::kPage;
        e.name = e.type == profiles::EventType::kTrack ? kEvents[pick(static_cast<int>(kEvents.size()))] : "Home";
        // Mostly now; some late (backfilled) and some dated ahead.
        e.timestamp = now - (pick(4) == 0 ? pick(200) * kDay : 0) + (pick(30) == 0 ? pick(20) * kDay : 0);
        e.properties = "{\"revenue\":" + std::to_string(1 + pick(400)) +
                       ",\"category\":" + JsonString(kCategories[pick(static_cast<int>(kCategories.size()))]) + "}";
        if (pick(2))
          e.context = "{\"channel\":" + JsonString(kChannels[pick(static_cast<int>(kChannels.size()))]) + "}";
        if (pick(5) == 0) {
          profiles::Location loc;
          loc.latitude = 22.9 + pick(300) / 1000.0;
          loc.longitude = 113.0 + pick(300) / 1000.0;
          e.location = loc;
        }
        table.AddEvent(p, e);
        uint32_t name = e.type == profiles::EventType::kTrack ? table.strings().Find(e.name) : StringPool::kNone;
        catalog.OnEvent(p, name, {}, e.location.has_value(), now, &batch);
      }
      catalog.Advance(now, &batch);
      if (i % 100 == 99) {
        check("after event " + std::to_string(i));
        // Time passes with no events: only timers move memberships.
        now += pick(40) * kDay;
        catalog.Advance(now, &batch);
        check("after idle time, event " + std::to_string(i));
      }
    }
    catalog.Snapshot(&batch);
    ASSERT_TRUE(kv.Write(batch, true).ok());
    // A restart over the same store and table gives the same members, and
    // no changes are recorded for them.
    Catalog reloaded(kv, table);
    store::WriteBatch reload_batch;
    auto root_of = [&](PersonId p) {
      while (parent[p] != p) p = parent[p];
      return p;
    };
    ASSERT_TRUE(reloaded.Load(now, root_of, &reload_batch).ok());
    EXPECT_EQ(reloaded.change_count(), 0u);
    for (const TagDef& t : catalog.ListTags()) {
      ASSERT_EQ((*reloaded.TagMembers(t.name))->ToVector(), (*catalog.TagMembers(t.name))->ToVector()) << t.name;
    }
    for (const SegmentDef& seg : catalog.ListSegments()) {
      ASSERT_EQ((*reloaded.SegmentMembers(seg.name))->ToVector(), (*catalog.SegmentMembers(seg.name))->ToVector());
    }
    // Changes were recorded and read back in order.
    absl::StatusOr<std::vector<MembershipChange>> changes = catalog.Changes(false, "t0", 0, 0, 100000);
    ASSERT_TRUE(changes.ok());
    for (size_t i = 1; i < changes->size(); ++i) EXPECT_LT((*changes)[i - 1].seq, (*changes)[i].seq);
    EXPECT_GT(catalog.change_count(), 0u);
  }
}

}  // namespace
}  // namespace facet::segments
