#include "segments/parser.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace facet::segments {
namespace {

constexpr TimeMs kMinute = 60'000;
constexpr TimeMs kHour = 60 * kMinute;
constexpr TimeMs kDay = 24 * kHour;

// The examples from docs/segment-language.md that other tests rely on.
const char* const kExamples[] = {
    R"(tag("vip") AND NOT (trait.age < 25 OR trait.city IN ("佛山", "广州")))",
    R"(trait.age BETWEEN 25 AND 40 AND trait.gender = "f" AND trait.email IS NOT NULL)",
    R"(count("Order Completed", 90d) >= 2)",
    R"(count("Order Completed" WHERE properties.revenue > 100, 30d) >= 1)",
    R"(sum("Order Completed", properties.revenue, 365d) > 1000)",
    R"(days_since_last("Order Completed") <= 30)",
    R"(within(23.0215, 113.1214, 5km))",
    R"(segment("lens_buyers") OR tag("高价值客户"))",
};

Expr ParseOk(std::string_view text) {
  absl::StatusOr<Expr> e = Parse(text);
  if (!e.ok()) {
    ADD_FAILURE() << "Parse(" << text << "): " << e.status();
    return Expr();
  }
  return *std::move(e);
}

ParseError ParseFails(std::string_view text) {
  ParseError error;
  absl::StatusOr<Expr> e = Parse(text, &error);
  EXPECT_FALSE(e.ok()) << text << " parsed as " << ToString(*e);
  if (!e.ok()) {
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  }
  return error;
}

// Structural equality, ignoring source positions.
bool SameOperand(const Operand& a, const Operand& b);

bool SameExpr(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.op != b.op || a.negated != b.negated || a.values != b.values || a.name != b.name ||
      a.latitude != b.latitude || a.longitude != b.longitude || a.radius_m != b.radius_m || a.gap_ms != b.gap_ms ||
      a.window_ms != b.window_ms || a.children.size() != b.children.size() || a.steps.size() != b.steps.size() ||
      !SameOperand(a.operand, b.operand)) {
    return false;
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!SameExpr(a.children[i], b.children[i])) return false;
  }
  for (size_t i = 0; i < a.steps.size(); ++i) {
    if (!SameOperand(a.steps[i], b.steps[i])) return false;
  }
  return true;
}

bool SameOperand(const Operand& a, const Operand& b) {
  if (a.kind != b.kind || a.path != b.path || a.fn != b.fn || a.event != b.event || a.value_path != b.value_path ||
      a.window_ms != b.window_ms || a.from_hour != b.from_hour || a.to_hour != b.to_hour ||
      (a.where == nullptr) != (b.where == nullptr)) {
    return false;
  }
  return a.where == nullptr || SameExpr(*a.where, *b.where);
}

// Parse(ToString(e)) gives a tree equal to e, and ToString is stable.
void ExpectRoundTrip(std::string_view text) {
  Expr e = ParseOk(text);
  std::string canonical = ToString(e);
  absl::StatusOr<Expr> again = Parse(canonical);
  ASSERT_TRUE(again.ok()) << text << " -> " << canonical << ": " << again.status();
  EXPECT_TRUE(SameExpr(e, *again)) << text << " -> " << canonical;
  EXPECT_EQ(ToString(*again), canonical);
}

TEST(ParserTest, TagAndNotOfOr) {
  Expr e = ParseOk(kExamples[0]);
  ASSERT_EQ(e.kind, Expr::Kind::kAnd);
  ASSERT_EQ(e.children.size(), 2u);
  EXPECT_EQ(e.children[0].kind, Expr::Kind::kTagRef);
  EXPECT_EQ(e.children[0].name, "vip");
  const Expr& n = e.children[1];
  ASSERT_EQ(n.kind, Expr::Kind::kNot);
  ASSERT_EQ(n.children.size(), 1u);
  const Expr& o = n.children[0];
  ASSERT_EQ(o.kind, Expr::Kind::kOr);
  ASSERT_EQ(o.children.size(), 2u);
  const Expr& lt = o.children[0];
  EXPECT_EQ(lt.kind, Expr::Kind::kCompare);
  EXPECT_EQ(lt.op, CompareOp::kLt);
  EXPECT_EQ(lt.operand.kind, Operand::Kind::kTrait);
  EXPECT_EQ(lt.operand.path, std::vector<std::string>{"age"});
  EXPECT_EQ(lt.values, std::vector<Literal>{25.0});
  const Expr& in = o.children[1];
  EXPECT_EQ(in.kind, Expr::Kind::kIn);
  EXPECT_FALSE(in.negated);
  EXPECT_EQ(in.operand.path, std::vector<std::string>{"city"});
  EXPECT_EQ(in.values, (std::vector<Literal>{std::string("佛山"), std::string("广州")}));
}

TEST(ParserTest, BetweenTakesTheFollowingAnd) {
  Expr e = ParseOk(kExamples[1]);
  ASSERT_EQ(e.kind, Expr::Kind::kAnd);
  ASSERT_EQ(e.children.size(), 3u);
  const Expr& between = e.children[0];
  EXPECT_EQ(between.kind, Expr::Kind::kBetween);
  EXPECT_FALSE(between.negated);
  EXPECT_EQ(between.values, (std::vector<Literal>{25.0, 40.0}));
  EXPECT_EQ(e.children[1].kind, Expr::Kind::kCompare);
  EXPECT_EQ(e.children[1].op, CompareOp::kEq);
  EXPECT_EQ(e.children[1].values, std::vector<Literal>{std::string("f")});
  const Expr& not_null = e.children[2];
  EXPECT_EQ(not_null.kind, Expr::Kind::kIsNull);
  EXPECT_TRUE(not_null.negated);
  EXPECT_EQ(not_null.operand.path, std::vector<std::string>{"email"});
}

TEST(ParserTest, CountWithWindow) {
  Expr e = ParseOk(kExamples[2]);
  ASSERT_EQ(e.kind, Expr::Kind::kCompare);
  EXPECT_EQ(e.op, CompareOp::kGe);
  EXPECT_EQ(e.values, std::vector<Literal>{2.0});
  const Operand& c = e.operand;
  EXPECT_EQ(c.kind, Operand::Kind::kAggregate);
  EXPECT_EQ(c.fn, AggregateFn::kCount);
  EXPECT_EQ(c.event, "Order Completed");
  EXPECT_EQ(c.where, nullptr);
  EXPECT_EQ(c.window_ms, 90 * kDay);
}

TEST(ParserTest, CountWithWhere) {
  Expr e = ParseOk(kExamples[3]);
  const Operand& c = e.operand;
  EXPECT_EQ(c.fn, AggregateFn::kCount);
  EXPECT_EQ(c.window_ms, 30 * kDay);
  ASSERT_NE(c.where, nullptr);
  EXPECT_EQ(c.where->kind, Expr::Kind::kCompare);
  EXPECT_EQ(c.where->op, CompareOp::kGt);
  EXPECT_EQ(c.where->operand.kind, Operand::Kind::kProperty);
  EXPECT_EQ(c.where->operand.path, std::vector<std::string>{"revenue"});
  EXPECT_EQ(c.where->values, std::vector<Literal>{100.0});
}

TEST(ParserTest, WhereTakesAFullCondition) {
  Expr e =
      ParseOk(R"(count("*" WHERE properties.a.b = 1 OR NOT (properties.c IS NULL AND properties.d CONTAINS "x")) > 0)");
  const Operand& c = e.operand;
  EXPECT_EQ(c.event, "*");
  EXPECT_EQ(c.window_ms, 0);
  ASSERT_NE(c.where, nullptr);
  ASSERT_EQ(c.where->kind, Expr::Kind::kOr);
  EXPECT_EQ(c.where->children[0].operand.path, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.where->children[1].kind, Expr::Kind::kNot);
  EXPECT_EQ(c.where->children[1].children[0].kind, Expr::Kind::kAnd);
}

TEST(ParserTest, SumTakesAPropertyPath) {
  Expr e = ParseOk(kExamples[4]);
  const Operand& s = e.operand;
  EXPECT_EQ(s.fn, AggregateFn::kSum);
  EXPECT_EQ(s.event, "Order Completed");
  EXPECT_EQ(s.value_path, std::vector<std::string>{"revenue"});
  EXPECT_EQ(s.window_ms, 365 * kDay);
  EXPECT_EQ(e.op, CompareOp::kGt);
  EXPECT_EQ(e.values, std::vector<Literal>{1000.0});
}

TEST(ParserTest, NumericAggregates) {
  struct Case {
    const char* text;
    AggregateFn fn;
  };
  for (const Case& c : {Case{R"(avg("E", properties.x.y) > 1)", AggregateFn::kAvg},
                        Case{R"(min("E", properties.x.y) > 1)", AggregateFn::kMin},
                        Case{R"(max("E", properties.x.y, 7d) > 1)", AggregateFn::kMax}}) {
    Expr e = ParseOk(c.text);
    EXPECT_EQ(e.operand.fn, c.fn) << c.text;
    EXPECT_EQ(e.operand.value_path, (std::vector<std::string>{"x", "y"})) << c.text;
  }
}

TEST(ParserTest, DaysSince) {
  Expr last = ParseOk(kExamples[5]);
  EXPECT_EQ(last.operand.fn, AggregateFn::kDaysSinceLast);
  EXPECT_EQ(last.operand.window_ms, 0);
  EXPECT_EQ(last.op, CompareOp::kLe);
  Expr first = ParseOk(R"(days_since_first("Signed Up", 12h) IS NULL)");
  EXPECT_EQ(first.kind, Expr::Kind::kIsNull);
  EXPECT_EQ(first.operand.fn, AggregateFn::kDaysSinceFirst);
  EXPECT_EQ(first.operand.window_ms, 12 * kHour);
}

TEST(ParserTest, HourShare) {
  Expr e = ParseOk(R"(hour_share("Order Completed" WHERE properties.channel = "app", 22, 6, 30m) >= 0.5)");
  const Operand& h = e.operand;
  EXPECT_EQ(h.fn, AggregateFn::kHourShare);
  EXPECT_EQ(h.from_hour, 22);
  EXPECT_EQ(h.to_hour, 6);
  EXPECT_EQ(h.window_ms, 30 * kMinute);
  EXPECT_NE(h.where, nullptr);
  EXPECT_EQ(e.values, std::vector<Literal>{0.5});
}

TEST(ParserTest, Within) {
  Expr e = ParseOk(kExamples[6]);
  ASSERT_EQ(e.kind, Expr::Kind::kWithin);
  EXPECT_EQ(e.latitude, 23.0215);
  EXPECT_EQ(e.longitude, 113.1214);
  EXPECT_EQ(e.radius_m, 5000);
  EXPECT_EQ(ParseOk("within(-33.9, -151.2, 800m)").radius_m, 800);
  EXPECT_EQ(ParseOk("within(0, 0, 2.5km)").radius_m, 2500);
}

TEST(ParserTest, SegmentOrTag) {
  Expr e = ParseOk(kExamples[7]);
  ASSERT_EQ(e.kind, Expr::Kind::kOr);
  ASSERT_EQ(e.children.size(), 2u);
  EXPECT_EQ(e.children[0].kind, Expr::Kind::kSegmentRef);
  EXPECT_EQ(e.children[0].name, "lens_buyers");
  EXPECT_EQ(e.children[1].kind, Expr::Kind::kTagRef);
  EXPECT_EQ(e.children[1].name, "高价值客户");
}

TEST(ParserTest, Sequence) {
  Expr e = ParseOk(R"(sequence("Product Viewed" WHERE properties.sku = "L1", "Order Completed", 2h, 7d))");
  ASSERT_EQ(e.kind, Expr::Kind::kSequence);
  ASSERT_EQ(e.steps.size(), 2u);
  for (const Operand& step : e.steps) {
    EXPECT_EQ(step.kind, Operand::Kind::kAggregate);
    EXPECT_EQ(step.fn, AggregateFn::kCount);
  }
  EXPECT_EQ(e.steps[0].event, "Product Viewed");
  ASSERT_NE(e.steps[0].where, nullptr);
  EXPECT_EQ(e.steps[0].where->operand.kind, Operand::Kind::kProperty);
  EXPECT_EQ(e.steps[1].event, "Order Completed");
  EXPECT_EQ(e.steps[1].where, nullptr);
  EXPECT_EQ(e.gap_ms, 2 * kHour);
  EXPECT_EQ(e.window_ms, 7 * kDay);
  EXPECT_EQ(ParseOk(R"(sequence("A", "B", 30m))").window_ms, 0);
}

TEST(ParserTest, TraitsAndTouches) {
  Expr t = ParseOk(R"(traits.address.city = "佛山")");
  EXPECT_EQ(t.operand.kind, Operand::Kind::kTrait);
  EXPECT_EQ(t.operand.path, (std::vector<std::string>{"address", "city"}));
  Expr q = ParseOk(R"(trait."first name".in = 'x')");
  EXPECT_EQ(q.operand.path, (std::vector<std::string>{"first name", "in"}));
  Expr f = ParseOk(R"(first_touch.channel = "miniprogram")");
  EXPECT_EQ(f.operand.kind, Operand::Kind::kFirstTouch);
  EXPECT_EQ(f.operand.path, std::vector<std::string>{"channel"});
  Expr l = ParseOk(R"(last_touch.channel NOT IN ("app", "web"))");
  EXPECT_EQ(l.operand.kind, Operand::Kind::kLastTouch);
  EXPECT_TRUE(l.negated);
}

TEST(ParserTest, AllComparisonOperators) {
  struct Case {
    const char* op;
    CompareOp want;
  };
  for (const Case& c :
       {Case{"=", CompareOp::kEq}, Case{"!=", CompareOp::kNe}, Case{"<>", CompareOp::kNe}, Case{"<", CompareOp::kLt},
        Case{"<=", CompareOp::kLe}, Case{">", CompareOp::kGt}, Case{">=", CompareOp::kGe}}) {
    Expr e = ParseOk(std::string("trait.x ") + c.op + " 1");
    EXPECT_EQ(e.kind, Expr::Kind::kCompare) << c.op;
    EXPECT_EQ(e.op, c.want) << c.op;
  }
}

TEST(ParserTest, NegatedPredicates) {
  EXPECT_TRUE(ParseOk("trait.x NOT BETWEEN 1 AND 2").negated);
  EXPECT_TRUE(ParseOk("trait.x NOT IN (1)").negated);
  EXPECT_TRUE(ParseOk(R"(trait.x NOT CONTAINS "a")").negated);
  EXPECT_TRUE(ParseOk("trait.x IS NOT NULL").negated);
  Expr e = ParseOk(R"(trait.tags CONTAINS "lens")");
  EXPECT_EQ(e.kind, Expr::Kind::kContains);
  EXPECT_FALSE(e.negated);
  EXPECT_EQ(e.values, std::vector<Literal>{std::string("lens")});
}

TEST(ParserTest, Literals) {
  EXPECT_EQ(ParseOk("trait.x = TRUE").values, std::vector<Literal>{true});
  EXPECT_EQ(ParseOk("trait.x = false").values, std::vector<Literal>{false});
  EXPECT_EQ(ParseOk("trait.x = -2.5e3").values, std::vector<Literal>{-2500.0});
  EXPECT_EQ(ParseOk("trait.x = 1E-2").values, std::vector<Literal>{0.01});
  EXPECT_EQ(ParseOk(R"(trait.x IN (1, "a", TRUE))").values, (std::vector<Literal>{1.0, std::string("a"), true}));
}

TEST(ParserTest, PrecedenceIsNotThenAndThenOr) {
  Expr e = ParseOk(R"(tag("a") OR tag("b") AND NOT tag("c"))");
  ASSERT_EQ(e.kind, Expr::Kind::kOr);
  ASSERT_EQ(e.children.size(), 2u);
  EXPECT_EQ(e.children[0].kind, Expr::Kind::kTagRef);
  const Expr& a = e.children[1];
  ASSERT_EQ(a.kind, Expr::Kind::kAnd);
  EXPECT_EQ(a.children[1].kind, Expr::Kind::kNot);

  Expr p = ParseOk(R"((tag("a") OR tag("b")) AND tag("c"))");
  ASSERT_EQ(p.kind, Expr::Kind::kAnd);
  EXPECT_EQ(p.children[0].kind, Expr::Kind::kOr);

  Expr n = ParseOk(R"(NOT tag("a") AND tag("b"))");
  ASSERT_EQ(n.kind, Expr::Kind::kAnd);
  EXPECT_EQ(n.children[0].kind, Expr::Kind::kNot);
}

TEST(ParserTest, ChainsAreFlattened) {
  EXPECT_EQ(ParseOk(R"(tag("a") AND tag("b") AND tag("c"))").children.size(), 3u);
  EXPECT_EQ(ParseOk(R"(tag("a") AND (tag("b") AND tag("c")) AND tag("d"))").children.size(), 4u);
  EXPECT_EQ(ParseOk(R"(tag("a") OR tag("b") OR (tag("c") OR tag("d")))").children.size(), 4u);
  EXPECT_EQ(ParseOk(R"((tag("a")))").kind, Expr::Kind::kTagRef);
}

TEST(ParserTest, KeywordsAndFunctionsIgnoreCase) {
  Expr lower = ParseOk(
      R"(Tag("vip") and not (TRAIT.age between 25 And 40 or trait.city in ("x")) )"
      R"(AND COUNT("E" where PROPERTIES.a is not null, 90d) >= 1 AND trait.b = True )"
      R"(OR Days_Since_Last("E") > 3 or WITHIN(1, 2, 3km) OR Sequence("A", "B", 1h) OR trait.x Not Contains "y")");
  Expr canonical = ParseOk(
      R"(tag("vip") AND NOT (trait.age BETWEEN 25 AND 40 OR trait.city IN ("x")) )"
      R"(AND count("E" WHERE properties.a IS NOT NULL, 90d) >= 1 AND trait.b = TRUE )"
      R"(OR days_since_last("E") > 3 OR within(1, 2, 3km) OR sequence("A", "B", 1h) OR trait.x NOT CONTAINS "y")");
  EXPECT_TRUE(SameExpr(lower, canonical)) << ToString(lower);
  EXPECT_EQ(ToString(lower), ToString(canonical));
}

TEST(ParserTest, StringsAndEscapes) {
  EXPECT_EQ(ParseOk(R"(tag("\u4f5b\u5c71"))").name, "佛山");
  EXPECT_EQ(ParseOk(R"(tag("\ud83d\ude00"))").name, "\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseOk(R"(tag('it\'s "ok"'))").name, "it's \"ok\"");
  EXPECT_EQ(ParseOk(R"(tag("a\"b\\c\nd\te"))").name, "a\"b\\c\nd\te");
  EXPECT_EQ(ParseOk("tag(\"高价值\t客户\")").name, "高价值\t客户");
}

TEST(ParserTest, CommentsAndNewlines) {
  Expr e = ParseOk(
      "-- 近90天购买至少两次\n"
      "count(\"Order Completed\",\n"
      "      90d)   -- window\n"
      "  >= 2\r\n"
      "AND tag(\"vip\")  -- trailing comment");
  ASSERT_EQ(e.kind, Expr::Kind::kAnd);
  EXPECT_EQ(e.children.size(), 2u);
}

TEST(ParserTest, NodesRecordWhereTheyStart) {
  Expr e = ParseOk(
      "tag(\"佛山\") AND\n"
      "  (trait.city = \"佛山\" OR NOT\n"
      "   count(\"E\" WHERE properties.x = 1) > 2)");
  EXPECT_EQ(e.pos.line, 1);
  EXPECT_EQ(e.pos.column, 1);
  const Expr& o = e.children[1];
  EXPECT_EQ(o.pos.line, 2);
  EXPECT_EQ(o.pos.column, 4);
  EXPECT_EQ(o.children[0].operand.pos.column, 4);
  const Expr& n = o.children[1];
  EXPECT_EQ(n.pos.line, 2);
  EXPECT_EQ(n.pos.column, 25);  // columns count characters, not bytes
  const Expr& cmp = n.children[0];
  EXPECT_EQ(cmp.pos.line, 3);
  EXPECT_EQ(cmp.pos.column, 4);
  ASSERT_NE(cmp.operand.where, nullptr);
  EXPECT_EQ(cmp.operand.where->pos.column, 20);
}

TEST(ParserTest, ErrorsCarryLineAndColumnInCharacters) {
  ParseError err = ParseFails(
      "tag(\"高价值客户\") AND\n"
      "  count(\"订单完成\", 90) >= 2");
  EXPECT_EQ(err.line, 2);
  EXPECT_EQ(err.column, 17);
  EXPECT_EQ(err.message, "window must be a number followed by d, h or m, found '90'");
  absl::StatusOr<Expr> e = Parse("tag(\"高价值客户\") AND\n  count(\"订单完成\", 90) >= 2");
  EXPECT_EQ(e.status().message(), "line 2, column 17: window must be a number followed by d, h or m, found '90'");
}

TEST(ParserTest, EndOfInputIsReportedAfterTheLastToken) {
  ParseError err = ParseFails("count(\"Order Completed\", 90d\n\n  -- more to come\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_EQ(err.column, 29);
  EXPECT_EQ(err.message, "expected ')' to close count(, found end of input");
  ParseError empty = ParseFails("  -- nothing\n");
  EXPECT_EQ(empty.line, 1);
  EXPECT_EQ(empty.column, 1);
  EXPECT_EQ(empty.message, "expected an expression, found end of input");
}

TEST(ParserTest, TheFirstErrorInTheTextWins) {
  // The string later on is unterminated, but the parser stops earlier.
  ParseError err = ParseFails(R"(tag(1) AND tag("x)");
  EXPECT_EQ(err.column, 5);
  EXPECT_EQ(err.message, "expected a tag name (string) in tag(, found '1'");
}

TEST(ParserTest, ErrorWithoutParseErrorOutput) {
  absl::StatusOr<Expr> e = Parse("");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "line 1, column 1: expected an expression, found end of input");
}

TEST(ParserTest, InvalidUtf8IsRefused) {
  ParseError in_string = ParseFails("tag(\"ab\xFF\")");
  EXPECT_EQ(in_string.column, 8);
  EXPECT_EQ(in_string.message, "invalid UTF-8 byte 0xFF");
  ParseError outside = ParseFails("tag(\"a\") \xE4\xBD");
  EXPECT_EQ(outside.message, "invalid UTF-8 byte 0xE4");
  ParseError overlong = ParseFails("tag(\"\xC0\xAF\")");
  EXPECT_EQ(overlong.message, "invalid UTF-8 byte 0xC0");
}

TEST(ParserTest, InvisibleCharactersAreNamed) {
  EXPECT_EQ(ParseFails("\xEF\xBB\xBFtag(\"a\")").message, "unexpected character U+FEFF");
  EXPECT_EQ(ParseFails("tag(\"a\")\x01").message, "unexpected character U+0001");
  EXPECT_EQ(ParseFails("tag(\"a\\\x01\")").message,
            "unknown escape '\\' followed by U+0001 in string; expected \\\", \\', \\\\, \\n, \\t or \\uXXXX");
}

TEST(ParserTest, DeepNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "(";
  deep += "tag(\"a\")";
  for (int i = 0; i < 200; ++i) deep += ")";
  EXPECT_EQ(ParseFails(deep).message, "expression nested too deeply (more than 64 levels)");
  std::string nots;
  for (int i = 0; i < 200; ++i) nots += "NOT ";
  EXPECT_EQ(ParseFails(nots + "tag(\"a\")").message, "expression nested too deeply (more than 64 levels)");
  std::string ok;
  for (int i = 0; i < 30; ++i) ok += "(";
  ok += "tag(\"a\")";
  for (int i = 0; i < 30; ++i) ok += ")";
  ParseOk(ok);
}

TEST(ParserTest, ExamplesRoundTrip) {
  for (const char* text : kExamples) {
    SCOPED_TRACE(text);
    ExpectRoundTrip(text);
    EXPECT_EQ(ToString(ParseOk(text)), text);  // the examples are canonical
  }
  for (const char* text : {
           R"(sequence("A" WHERE properties.x IN (1, 2), "B" WHERE NOT properties.y = "z", 90m, 36h))",
           R"(hour_share("E", 0, 24) > 0.25 AND avg("E", properties."a b", 1440m) BETWEEN 1 AND 2)",
           R"(NOT NOT (tag("a") OR tag("b")) AND NOT (tag("c") AND tag("d")))",
           R"(trait.x = "\u0001 \" \\ \n \t 佛" OR trait.y = 1e300 OR trait.z = 0.1 OR trait.w = -0.000001)",
           R"(within(-90, 180, 0.001m) OR within(1.5, -2.25, 2500m) OR within(0, 0, 1234.5km))",
           R"(first_touch.channel NOT IN ("a") AND last_touch.utm_source NOT CONTAINS "x")",
       }) {
    SCOPED_TRACE(text);
    ExpectRoundTrip(text);
  }
}

TEST(ToStringTest, CanonicalForm) {
  EXPECT_EQ(ToString(ParseOk(R"(Tag('x') and (tag("y") or tag("z")) or not (tag("a") and tag("b")))")),
            R"(tag("x") AND (tag("y") OR tag("z")) OR NOT (tag("a") AND tag("b")))");
  EXPECT_EQ(ToString(ParseOk(R"(count("E", 24h) > 1.50 AND count("E", 120m) <> 1e3)")),
            R"(count("E", 1d) > 1.5 AND count("E", 2h) != 1000)");
  EXPECT_EQ(ToString(ParseOk("within(1, 2, 2500m) OR within(1, 2, 0.5km) OR within(1, 2, 3000m)")),
            "within(1, 2, 2.5km) OR within(1, 2, 500m) OR within(1, 2, 3km)");
  EXPECT_EQ(ToString(ParseOk(R"(traits."a-b".c = 'x' OR trait.x = 12345678901234567 OR trait.x = 1e22)")),
            R"(trait."a-b".c = "x" OR trait.x = 12345678901234568 OR trait.x = 1e+22)");
}

TEST(ToStringTest, HandBuiltTrees) {
  Expr leaf;
  leaf.kind = Expr::Kind::kTagRef;
  leaf.name = "a";
  Expr inner;
  inner.kind = Expr::Kind::kAnd;
  inner.children = {leaf, leaf};
  Expr outer;
  outer.kind = Expr::Kind::kAnd;
  outer.children = {leaf, inner};
  EXPECT_EQ(ToString(outer), R"(tag("a") AND (tag("a") AND tag("a")))");

  Expr seq;
  seq.kind = Expr::Kind::kSequence;
  seq.steps.resize(2);
  seq.steps[0].kind = seq.steps[1].kind = Operand::Kind::kAggregate;
  seq.steps[0].event = "A";
  seq.steps[1].event = "B";
  seq.gap_ms = 90 * 1000;  // not whole minutes: rounded up
  EXPECT_EQ(ToString(seq), R"(sequence("A", "B", 2m))");
}

TEST(CollectRefsTest, WalksEverything) {
  Expr e =
      ParseOk(R"(tag("a") AND NOT (segment("s1") OR tag("b")) AND count("E", 1d) > 1 AND (tag("a") OR segment("s2")))");
  std::vector<std::string> tags, segments;
  CollectRefs(e, &tags, &segments);
  EXPECT_EQ(tags, (std::vector<std::string>{"a", "b", "a"}));
  EXPECT_EQ(segments, (std::vector<std::string>{"s1", "s2"}));

  // References inside WHERE and sequence steps are found too (the parser
  // refuses them, but trees may be built by hand).
  Expr ref;
  ref.kind = Expr::Kind::kTagRef;
  ref.name = "in_where";
  Expr cmp;
  cmp.kind = Expr::Kind::kCompare;
  cmp.operand.kind = Operand::Kind::kAggregate;
  cmp.operand.where = std::make_shared<Expr>(ref);
  Expr seq;
  seq.kind = Expr::Kind::kSequence;
  seq.steps.resize(2);
  ref.kind = Expr::Kind::kSegmentRef;
  ref.name = "in_step";
  seq.steps[1].where = std::make_shared<Expr>(ref);
  Expr both;
  both.kind = Expr::Kind::kOr;
  both.children = {cmp, seq};
  tags.clear();
  segments.clear();
  CollectRefs(both, &tags, &segments);
  EXPECT_EQ(tags, std::vector<std::string>{"in_where"});
  EXPECT_EQ(segments, std::vector<std::string>{"in_step"});

  tags.clear();
  CollectRefs(both, &tags, nullptr);
  EXPECT_EQ(tags, std::vector<std::string>{"in_where"});
}

// testdata/parse.seg: see the comment at the top of that file.
struct SegCase {
  int line = 0;  // of the block's first line
  bool expect_error = false;
  std::string input;
  std::string expected;
};

void PrintTo(const SegCase& c, std::ostream* os) { *os << "parse.seg:" << c.line; }

std::string SegPath() { return std::string(FACET_SEGMENTS_TESTDATA) + "/parse.seg"; }

// Reads the cases; `problem` receives a description of a malformed file.
std::vector<SegCase> LoadSegCases(std::string* problem) {
  std::ifstream in(SegPath());
  if (!in) {
    *problem = "cannot open " + SegPath();
    return {};
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  std::vector<SegCase> cases;
  size_t i = 0;
  while (i < lines.size()) {
    if (lines[i].empty() || lines[i][0] == '#') {
      ++i;
      continue;
    }
    SegCase c;
    c.line = static_cast<int>(i + 1);
    if (lines[i] != "parse" && lines[i] != "error") {
      *problem = "line " + std::to_string(i + 1) + ": expected 'parse' or 'error', found '" + lines[i] + "'";
      return {};
    }
    c.expect_error = lines[i] == "error";
    ++i;
    std::vector<std::string> input, expected;
    while (i < lines.size() && lines[i] != "----" && !lines[i].empty()) input.push_back(lines[i++]);
    if (i >= lines.size() || lines[i] != "----" || input.empty()) {
      *problem = "line " + std::to_string(c.line) + ": expected the input, then a line '----'";
      return {};
    }
    ++i;
    while (i < lines.size() && !lines[i].empty()) expected.push_back(lines[i++]);
    if (expected.size() != 1) {
      *problem = "line " + std::to_string(c.line) + ": expected one line of result after '----'";
      return {};
    }
    for (size_t k = 0; k < input.size(); ++k) c.input += (k > 0 ? "\n" : "") + input[k];
    c.expected = expected[0];
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<SegCase> SegCases() {
  std::string problem;
  return LoadSegCases(&problem);
}

TEST(ParseSegFileTest, IsWellFormedAndLarge) {
  std::string problem;
  std::vector<SegCase> cases = LoadSegCases(&problem);
  EXPECT_EQ(problem, "");
  EXPECT_GE(cases.size(), 60u);
}

class ParseSegTest : public testing::TestWithParam<SegCase> {};

TEST_P(ParseSegTest, Case) {
  const SegCase& c = GetParam();
  SCOPED_TRACE(SegPath() + ":" + std::to_string(c.line));
  absl::StatusOr<Expr> e = Parse(c.input);
  if (c.expect_error) {
    ASSERT_FALSE(e.ok()) << c.input << "\nparsed as: " << ToString(*e);
    EXPECT_EQ(std::string(e.status().message()), c.expected) << c.input;
    return;
  }
  ASSERT_TRUE(e.ok()) << c.input << "\n" << e.status();
  std::string canonical = ToString(*e);
  EXPECT_EQ(canonical, c.expected) << c.input;
  absl::StatusOr<Expr> again = Parse(canonical);
  ASSERT_TRUE(again.ok()) << canonical << "\n" << again.status();
  EXPECT_TRUE(SameExpr(*e, *again)) << canonical;
}

INSTANTIATE_TEST_SUITE_P(Testdata, ParseSegTest, testing::ValuesIn(SegCases()),
                         [](const testing::TestParamInfo<SegCase>& info) {
                           return "line_" + std::to_string(info.param.line);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParseSegTest);

}  // namespace
}  // namespace facet::segments
