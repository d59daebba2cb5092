#include "segments/parser.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "segments/internal/lexer.h"

namespace facet::segments {
namespace {

using internal::IsKeyword;
using internal::Token;
using internal::TokenKind;

constexpr int kMaxDepth = 64;
constexpr TimeMs kMinuteMs = 60'000;
constexpr TimeMs kHourMs = 60 * kMinuteMs;
constexpr TimeMs kDayMs = 24 * kHourMs;
constexpr TimeMs kMaxWindowMs = 100'000 * kDayMs;

constexpr std::string_view kKeywords[] = {"AND",  "OR",       "NOT",   "IN",   "BETWEEN", "IS",
                                          "NULL", "CONTAINS", "WHERE", "TRUE", "FALSE"};

enum class Function {
  kTag,
  kSegment,
  kCount,
  kSum,
  kAvg,
  kMin,
  kMax,
  kDaysSinceLast,
  kDaysSinceFirst,
  kHourShare,
  kWithin,
  kSequence,
};

struct FunctionName {
  std::string_view name;  // upper case
  Function fn;
};

constexpr FunctionName kFunctions[] = {
    {"TAG", Function::kTag},
    {"SEGMENT", Function::kSegment},
    {"COUNT", Function::kCount},
    {"SUM", Function::kSum},
    {"AVG", Function::kAvg},
    {"MIN", Function::kMin},
    {"MAX", Function::kMax},
    {"DAYS_SINCE_LAST", Function::kDaysSinceLast},
    {"DAYS_SINCE_FIRST", Function::kDaysSinceFirst},
    {"HOUR_SHARE", Function::kHourShare},
    {"WITHIN", Function::kWithin},
    {"SEQUENCE", Function::kSequence},
};

constexpr char kFunctionList[] =
    "tag, segment, count, sum, avg, min, max, days_since_last, days_since_first, hour_share, within, sequence";

// What an operand yields, for checking the literals compared with it.
enum class ValueType { kAny, kNumber, kString };

bool IsAnyKeyword(const Token& t) {
  if (t.kind != TokenKind::kIdent) return false;
  for (std::string_view k : kKeywords) {
    if (IsKeyword(t.text, k)) return true;
  }
  return false;
}

bool IsWord(const Token& t, std::string_view keyword) {
  return t.kind == TokenKind::kIdent && IsKeyword(t.text, keyword);
}

bool IsAllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// `s` cut to at most `max` code points, with "..." when cut.
std::string Abbreviate(std::string_view s, size_t max) {
  size_t points = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (points++ == max) return absl::StrCat(std::string(s.substr(0, i)), "...");
  }
  return std::string(s);
}

std::string Describe(const Token& t) {
  if (t.kind == TokenKind::kEnd) return "end of input";
  return absl::StrCat("'", Abbreviate(t.text, 40), "'");
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), tokens_(internal::Tokenize(text)) {}

  bool Run(Expr* out) {
    if (!ParseOr(out)) return false;
    if (Peek().kind != TokenKind::kEnd) {
      return Fail(Peek(), absl::StrCat("trailing input after expression: ", Describe(Peek())));
    }
    return true;
  }

  const ParseError& error() const { return error_; }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  // Positions are asked for in increasing order as tokens are consumed:
  // each call goes on from the last, so that a long expression is read in
  // linear time.
  SourcePos PosOf(const Token& t) const {
    const size_t offset = std::min(t.offset, text_.size());
    if (offset < pos_offset_) {
      pos_offset_ = 0;
      pos_at_ = SourcePos{};
    }
    const SourcePos step = internal::PosAt(text_.substr(pos_offset_), offset - pos_offset_);
    if (step.line > 1) {
      pos_at_ = SourcePos{pos_at_.line + step.line - 1, step.column};
    } else {
      pos_at_.column += step.column - 1;
    }
    pos_offset_ = offset;
    return pos_at_;
  }

  // Records an error at `t` (or the lexical error `t` carries). Returns false.
  bool Fail(const Token& t, std::string message) {
    if (t.kind == TokenKind::kError) message = t.value;
    SourcePos pos = PosOf(t);
    error_.line = pos.line;
    error_.column = pos.column;
    error_.message = std::move(message);
    return false;
  }
  // Fails at the next token with "<expected>, found <it>".
  bool FailFound(const std::string& expected) {
    return Fail(Peek(), absl::StrCat(expected, ", found ", Describe(Peek())));
  }
  bool Expect(TokenKind kind, const std::string& expected) {
    if (Peek().kind != kind) return FailFound(expected);
    Next();
    return true;
  }

  // The source text from byte `start` to the end of the last consumed token,
  // on one line, for messages.
  std::string SourceSince(size_t start) const {
    const Token& last = tokens_[pos_ == 0 ? 0 : pos_ - 1];
    size_t end = last.offset + last.text.size();
    std::string out;
    bool space = false;
    for (size_t i = start; i < end; ++i) {
      char c = text_[i];
      if (c == '\n' || c == '\r' || c == '\t') {
        space = true;
        continue;
      }
      if (space && !out.empty() && out.back() != ' ' && c != ' ') out += ' ';
      space = false;
      out += c;
    }
    return Abbreviate(out, 60);
  }

  // or := and (OR and)*
  bool ParseOr(Expr* out) { return ParseChain(Expr::Kind::kOr, "OR", out); }
  // and := not (AND not)*
  bool ParseAnd(Expr* out) { return ParseChain(Expr::Kind::kAnd, "AND", out); }

  bool ParseChain(Expr::Kind kind, std::string_view keyword, Expr* out) {
    SourcePos start = PosOf(Peek());
    std::vector<Expr> items(1);
    auto parse_item = [&](Expr* e) { return kind == Expr::Kind::kOr ? ParseAnd(e) : ParseNot(e); };
    if (!parse_item(&items[0])) return false;
    while (IsWord(Peek(), keyword)) {
      Next();
      items.emplace_back();
      if (!parse_item(&items.back())) return false;
    }
    if (items.size() == 1) {
      *out = std::move(items[0]);
      return true;
    }
    Expr chain;
    chain.kind = kind;
    chain.pos = start;
    for (Expr& item : items) {
      if (item.kind == kind) {  // a parenthesised chain of the same kind
        for (Expr& child : item.children) chain.children.push_back(std::move(child));
      } else {
        chain.children.push_back(std::move(item));
      }
    }
    *out = std::move(chain);
    return true;
  }

  // not := NOT not | primary
  bool ParseNot(Expr* out) {
    if (depth_ == kMaxDepth) {
      return Fail(Peek(), absl::StrCat("expression nested too deeply (more than ", kMaxDepth, " levels)"));
    }
    ++depth_;
    bool ok;
    if (IsWord(Peek(), "NOT")) {
      Expr e;
      e.kind = Expr::Kind::kNot;
      e.pos = PosOf(Next());
      e.children.emplace_back();
      ok = ParseNot(&e.children[0]);
      if (ok) *out = std::move(e);
    } else {
      ok = ParsePrimary(out);
    }
    --depth_;
    return ok;
  }

  bool ParsePrimary(Expr* out) {
    const Token& t = Peek();
    if (t.kind == TokenKind::kLParen) {
      const Token& open = Next();
      if (!ParseOr(out)) return false;
      SourcePos p = PosOf(open);
      return Expect(TokenKind::kRParen,
                    absl::StrCat("expected ')' to close '(' at line ", p.line, ", column ", p.column));
    }
    if (t.kind == TokenKind::kNumber || t.kind == TokenKind::kString || IsWord(t, "TRUE") || IsWord(t, "FALSE")) {
      return Fail(t, absl::StrCat("expected an expression, found ", Describe(t),
                                  "; a literal goes on the right of a comparison, e.g. trait.age > 25"));
    }
    if (t.kind != TokenKind::kIdent || IsAnyKeyword(t)) return FailFound("expected an expression");

    size_t start = t.offset;
    Operand operand;
    if (Peek(1).kind == TokenKind::kLParen) {
      const Function* fn = LookUpFunction(t);
      if (fn == nullptr) {
        return Fail(t, absl::StrCat("unknown function '", std::string(t.text), "'; expected one of ", kFunctionList));
      }
      if (in_where_) {
        return Fail(t, absl::StrCat(Lower(t.text), "() cannot be used inside WHERE; only properties.* can"));
      }
      switch (*fn) {
        case Function::kTag:
        case Function::kSegment:
        case Function::kWithin:
        case Function::kSequence:
          if (!ParseConditionCall(*fn, out)) return false;
          if (IsCompareToken(Peek())) {
            return Fail(Peek(), absl::StrCat(SourceSince(start), " is a condition and cannot be compared, found ",
                                             Describe(Peek())));
          }
          return true;
        default:
          if (!ParseAggregate(*fn, &operand)) return false;
      }
    } else {
      if (!ParseOperand(&operand)) return false;
    }
    return ParseComparison(std::move(operand), start, out);
  }

  static const Function* LookUpFunction(const Token& t) {
    for (const FunctionName& f : kFunctions) {
      if (IsKeyword(t.text, f.name)) return &f.fn;
    }
    return nullptr;
  }

  static std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }

  static bool IsCompareToken(const Token& t) {
    switch (t.kind) {
      case TokenKind::kEq:
      case TokenKind::kNe:
      case TokenKind::kLt:
      case TokenKind::kLe:
      case TokenKind::kGt:
      case TokenKind::kGe:
        return true;
      default:
        return false;
    }
  }

  static CompareOp CompareOpOf(const Token& t) {
    switch (t.kind) {
      case TokenKind::kNe:
        return CompareOp::kNe;
      case TokenKind::kLt:
        return CompareOp::kLt;
      case TokenKind::kLe:
        return CompareOp::kLe;
      case TokenKind::kGt:
        return CompareOp::kGt;
      case TokenKind::kGe:
        return CompareOp::kGe;
      default:
        return CompareOp::kEq;
    }
  }

  // trait.a.b | traits.a.b | properties.a.b (in WHERE) | first_touch.f | last_touch.f
  bool ParseOperand(Operand* out) {
    const Token& t = Peek();
    out->pos = PosOf(t);
    std::string prefix = Lower(t.text);
    if (prefix == "trait" || prefix == "traits") {
      if (in_where_) return Fail(t, "trait.* cannot be used inside WHERE; only properties.* can");
      out->kind = Operand::Kind::kTrait;
    } else if (prefix == "properties") {
      if (!in_where_) return Fail(t, "properties.* can only be used inside WHERE");
      out->kind = Operand::Kind::kProperty;
    } else if (prefix == "first_touch" || prefix == "last_touch") {
      if (in_where_) return Fail(t, absl::StrCat(prefix, ".* cannot be used inside WHERE; only properties.* can"));
      out->kind = prefix == "first_touch" ? Operand::Kind::kFirstTouch : Operand::Kind::kLastTouch;
    } else if (LookUpFunction(t) != nullptr) {
      Next();
      return FailFound(absl::StrCat("expected '(' after ", std::string(t.text)));
    } else if (Peek(1).kind == TokenKind::kDot) {
      return Fail(t, absl::StrCat("unknown name '", std::string(t.text), "'; expected ",
                                  in_where_ ? "properties" : "trait, first_touch or last_touch", " before '.'"));
    } else {
      return Fail(t, absl::StrCat("unknown name '", std::string(t.text), "'; did you mean ",
                                  in_where_ ? "properties." : "trait.", std::string(t.text), "?"));
    }
    Next();
    bool single = out->kind == Operand::Kind::kFirstTouch || out->kind == Operand::Kind::kLastTouch;
    return ParsePath(prefix, single, &out->path);
  }

  // ('.' (identifier | non-empty string))+ after `prefix`; just one if `single`.
  bool ParsePath(const std::string& prefix, bool single, std::vector<std::string>* path) {
    if (!Expect(TokenKind::kDot, absl::StrCat("expected '.' after ", prefix))) return false;
    while (true) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kIdent) {
        path->emplace_back(t.text);
      } else if (t.kind == TokenKind::kString && !t.value.empty()) {
        path->push_back(t.value);
      } else {
        return FailFound("expected a name after '.'");
      }
      Next();
      if (Peek().kind != TokenKind::kDot) return true;
      if (single) return FailFound(absl::StrCat(prefix, " takes a single field, e.g. ", prefix, ".channel"));
      Next();
    }
  }

  // tag("x") | segment("x") | within(lat, lon, radius) | sequence(step, step, gap [, window])
  bool ParseConditionCall(Function fn, Expr* out) {
    const Token& name = Next();
    std::string fn_name = Lower(name.text);
    out->pos = PosOf(name);
    Next();  // '('
    std::string close = absl::StrCat("expected ')' to close ", fn_name, "(");
    switch (fn) {
      case Function::kTag:
      case Function::kSegment: {
        out->kind = fn == Function::kTag ? Expr::Kind::kTagRef : Expr::Kind::kSegmentRef;
        if (Peek().kind != TokenKind::kString) {
          return FailFound(absl::StrCat("expected a ", fn_name, " name (string) in ", fn_name, "("));
        }
        if (Peek().value.empty()) return Fail(Peek(), absl::StrCat(fn_name, " name must not be empty"));
        out->name = Next().value;
        return Expect(TokenKind::kRParen, close);
      }
      case Function::kWithin: {
        out->kind = Expr::Kind::kWithin;
        if (!ParseCoordinate("latitude", 90, &out->latitude)) return false;
        if (!Expect(TokenKind::kComma, "expected ',' followed by the longitude in within(")) return false;
        if (!ParseCoordinate("longitude", 180, &out->longitude)) return false;
        if (!Expect(TokenKind::kComma, "expected ',' followed by the radius in within(")) return false;
        if (!ParseRadius(&out->radius_m)) return false;
        return Expect(TokenKind::kRParen, close);
      }
      default: {
        out->kind = Expr::Kind::kSequence;
        out->steps.resize(2);
        for (int i = 0; i < 2; ++i) {
          Operand& step = out->steps[i];
          step.kind = Operand::Kind::kAggregate;
          step.fn = AggregateFn::kCount;
          step.pos = PosOf(Peek());
          if (!ParseEventStep("sequence", i == 0 ? "first" : "second", &step)) return false;
          if (!Expect(TokenKind::kComma, i == 0 ? "expected ',' followed by the second event in sequence("
                                                : "expected ',' followed by the gap in sequence(")) {
            return false;
          }
        }
        if (!ParseDuration("gap", &out->gap_ms)) return false;
        if (Peek().kind == TokenKind::kComma) {
          Next();
          if (!ParseDuration("window", &out->window_ms)) return false;
        }
        return Expect(TokenKind::kRParen, close);
      }
    }
  }

  // count|sum|avg|min|max|days_since_last|days_since_first|hour_share(...)
  bool ParseAggregate(Function fn, Operand* out) {
    const Token& name = Next();
    std::string fn_name = Lower(name.text);
    out->kind = Operand::Kind::kAggregate;
    out->pos = PosOf(name);
    Next();  // '('
    switch (fn) {
      case Function::kCount:
        out->fn = AggregateFn::kCount;
        break;
      case Function::kSum:
        out->fn = AggregateFn::kSum;
        break;
      case Function::kAvg:
        out->fn = AggregateFn::kAvg;
        break;
      case Function::kMin:
        out->fn = AggregateFn::kMin;
        break;
      case Function::kMax:
        out->fn = AggregateFn::kMax;
        break;
      case Function::kDaysSinceLast:
        out->fn = AggregateFn::kDaysSinceLast;
        break;
      case Function::kDaysSinceFirst:
        out->fn = AggregateFn::kDaysSinceFirst;
        break;
      default:
        out->fn = AggregateFn::kHourShare;
        break;
    }
    if (!ParseEventStep(fn_name, "first", out)) return false;
    if (fn == Function::kSum || fn == Function::kAvg || fn == Function::kMin || fn == Function::kMax) {
      std::string expected = absl::StrCat("expected ',' followed by properties.<name> in ", fn_name, "(");
      if (!Expect(TokenKind::kComma, expected)) return false;
      if (!IsWord(Peek(), "PROPERTIES")) {
        return FailFound(absl::StrCat("expected properties.<name> as the value of ", fn_name, "("));
      }
      Next();
      if (!ParsePath("properties", false, &out->value_path)) return false;
    } else if (fn == Function::kHourShare) {
      if (!Expect(TokenKind::kComma, "expected ',' followed by the from hour in hour_share(")) return false;
      const Token& from = Peek();
      if (!ParseHour(&out->from_hour)) return false;
      if (!Expect(TokenKind::kComma, "expected ',' followed by the to hour in hour_share(")) return false;
      if (!ParseHour(&out->to_hour)) return false;
      if (out->from_hour == out->to_hour) {
        return Fail(from, absl::StrCat("hour_share needs different from and to hours, found ", out->from_hour, " and ",
                                       out->to_hour));
      }
    }
    if (Peek().kind == TokenKind::kComma) {
      Next();
      if (!ParseDuration("window", &out->window_ms)) return false;
    }
    return Expect(TokenKind::kRParen, absl::StrCat("expected ')' to close ", fn_name, "("));
  }

  // "Event" [WHERE condition]
  bool ParseEventStep(const std::string& fn_name, const std::string& ordinal, Operand* out) {
    if (Peek().kind != TokenKind::kString) {
      return FailFound(absl::StrCat("expected an event name (string) as the ", ordinal, " argument of ", fn_name, "("));
    }
    if (Peek().value.empty()) return Fail(Peek(), "event name must not be empty");
    out->event = Next().value;
    if (!IsWord(Peek(), "WHERE")) return true;
    Next();
    auto where = std::make_shared<Expr>();
    in_where_ = true;
    bool ok = ParseOr(where.get());
    in_where_ = false;
    if (!ok) return false;
    out->where = std::move(where);
    return true;
  }

  // A positive whole number of days, hours or minutes: 90d, 12h, 30m.
  bool ParseDuration(const std::string& what, TimeMs* out) {
    const Token& t = Peek();
    TimeMs unit = 0;
    if (t.kind == TokenKind::kNumber) {
      if (t.unit == "d") unit = kDayMs;
      if (t.unit == "h") unit = kHourMs;
      if (t.unit == "m") unit = kMinuteMs;
    }
    if (unit == 0) return Fail(t, absl::StrCat(what, " must be a number followed by d, h or m, found ", Describe(t)));
    std::string_view digits = t.number_text;
    bool negative = !digits.empty() && digits[0] == '-';
    if (negative) digits.remove_prefix(1);
    if (!IsAllDigits(digits)) {
      return Fail(t, absl::StrCat(what, " must be a whole number of days, hours or minutes, found ", Describe(t)));
    }
    if (negative || t.number == 0) return Fail(t, absl::StrCat(what, " must be greater than 0, found ", Describe(t)));
    if (t.number > static_cast<double>(kMaxWindowMs / unit)) {
      return Fail(t, absl::StrCat(what, " must be at most ", kMaxWindowMs / kDayMs, "d, found ", Describe(t)));
    }
    *out = static_cast<TimeMs>(t.number) * unit;
    Next();
    return true;
  }

  bool ParseHour(int* out) {
    const Token& t = Peek();
    if (t.kind != TokenKind::kNumber || !t.unit.empty() || !IsAllDigits(t.number_text) || t.number > 24) {
      return Fail(t, absl::StrCat("hour must be a whole number from 0 to 24, found ", Describe(t)));
    }
    *out = static_cast<int>(t.number);
    Next();
    return true;
  }

  bool ParseCoordinate(const std::string& what, double limit, double* out) {
    const Token& t = Peek();
    if (t.kind != TokenKind::kNumber || !t.unit.empty()) {
      return FailFound(absl::StrCat("expected a number for the ", what, " in within("));
    }
    if (!(t.number >= -limit && t.number <= limit)) {
      return Fail(
          t, absl::StrCat(what, " must be between -", limit, " and ", limit, ", found ", std::string(t.number_text)));
    }
    *out = t.number;
    Next();
    return true;
  }

  bool ParseRadius(double* out) {
    const Token& t = Peek();
    double unit = 0;
    if (t.kind == TokenKind::kNumber) {
      if (t.unit == "km") unit = 1000;
      if (t.unit == "m") unit = 1;
    }
    if (unit == 0) return Fail(t, absl::StrCat("radius must be a number followed by km or m, found ", Describe(t)));
    double meters = t.number * unit;
    if (!(meters > 0)) return Fail(t, absl::StrCat("radius must be greater than 0, found ", Describe(t)));
    if (!std::isfinite(meters)) return Fail(t, absl::StrCat("radius is too large, found ", Describe(t)));
    *out = meters;
    Next();
    return true;
  }

  static ValueType TypeOf(const Operand& o) {
    switch (o.kind) {
      case Operand::Kind::kAggregate:
        return ValueType::kNumber;
      case Operand::Kind::kFirstTouch:
      case Operand::Kind::kLastTouch:
        return ValueType::kString;
      default:
        return ValueType::kAny;
    }
  }

  // A literal compared with `operand`; `where` says where it stands in
  // messages ("after '<'").
  bool ParseLiteral(const std::string& operand, ValueType type, bool ordered, const std::string& where, Literal* out) {
    const Token& t = Peek();
    if (IsWord(t, "NULL")) return Fail(t, "NULL is not a value; use IS NULL or IS NOT NULL");
    std::string expected = absl::StrCat("expected a value (number, string, TRUE or FALSE) ", where);
    if (t.kind == TokenKind::kNumber && t.unit.empty()) {
      *out = t.number;
    } else if (t.kind == TokenKind::kString) {
      *out = t.value;
    } else if (IsWord(t, "TRUE") || IsWord(t, "FALSE")) {
      *out = IsWord(t, "TRUE");
    } else {
      return FailFound(expected);
    }
    if (type == ValueType::kNumber && !std::holds_alternative<double>(*out)) {
      return FailFound(absl::StrCat(operand, " is a number; expected a number ", where));
    }
    if (type == ValueType::kString && !std::holds_alternative<std::string>(*out)) {
      return FailFound(absl::StrCat(operand, " is a string; expected a string ", where));
    }
    if (ordered && std::holds_alternative<bool>(*out)) {
      return FailFound(absl::StrCat("expected a number or string ", where, " (TRUE and FALSE take = and != only)"));
    }
    Next();
    return true;
  }

  // The comparison after `operand`, which started at byte `start`.
  bool ParseComparison(Operand operand, size_t start, Expr* out) {
    std::string name = SourceSince(start);
    ValueType type = TypeOf(operand);
    Expr e;
    e.pos = operand.pos;
    const Token& t = Peek();
    if (IsCompareToken(t)) {
      e.kind = Expr::Kind::kCompare;
      e.op = CompareOpOf(t);
      bool ordered = e.op != CompareOp::kEq && e.op != CompareOp::kNe;
      std::string where = absl::StrCat("after '", std::string(t.text), "'");
      Next();
      e.values.emplace_back();
      if (!ParseLiteral(name, type, ordered, where, &e.values[0])) return false;
    } else {
      if (IsWord(t, "NOT")) {
        const Token& after = Peek(1);
        if (!IsWord(after, "BETWEEN") && !IsWord(after, "IN") && !IsWord(after, "CONTAINS")) {
          Next();
          return FailFound("expected BETWEEN, IN or CONTAINS after NOT");
        }
        e.negated = true;
        Next();
      }
      const Token& word = Peek();
      if (IsWord(word, "BETWEEN")) {
        e.kind = Expr::Kind::kBetween;
        Next();
        e.values.resize(2);
        if (!ParseLiteral(name, type, true, "after BETWEEN", &e.values[0])) return false;
        if (!IsWord(Peek(), "AND")) return FailFound("expected AND between the bounds of BETWEEN");
        Next();
        const Token& high = Peek();
        if (!ParseLiteral(name, type, true, "after BETWEEN ... AND", &e.values[1])) return false;
        if (e.values[0].index() != e.values[1].index()) {
          return Fail(high,
                      absl::StrCat("BETWEEN bounds must both be numbers or both be strings, found ", Describe(high)));
        }
      } else if (IsWord(word, "IN")) {
        e.kind = Expr::Kind::kIn;
        Next();
        if (!Expect(TokenKind::kLParen, "expected '(' after IN")) return false;
        while (true) {
          e.values.emplace_back();
          if (!ParseLiteral(name, type, false, "in IN (...)", &e.values.back())) return false;
          if (Peek().kind == TokenKind::kRParen) break;
          if (!Expect(TokenKind::kComma, "expected ',' or ')' in IN (...)")) return false;
        }
        Next();
      } else if (IsWord(word, "CONTAINS")) {
        e.kind = Expr::Kind::kContains;
        if (type == ValueType::kNumber) {
          return Fail(word, absl::StrCat(name, " is a number; CONTAINS applies to strings and arrays"));
        }
        Next();
        if (Peek().kind != TokenKind::kString) return FailFound("expected a string after CONTAINS");
        e.values.emplace_back(Next().value);
      } else if (IsWord(word, "IS")) {
        e.kind = Expr::Kind::kIsNull;
        Next();
        if (IsWord(Peek(), "NOT")) {
          e.negated = true;
          Next();
        }
        if (!IsWord(Peek(), "NULL")) {
          return FailFound(e.negated ? "expected NULL after IS NOT" : "expected NULL or NOT NULL after IS");
        }
        Next();
      } else {
        return FailFound(absl::StrCat("expected a comparison after ", name));
      }
    }
    e.operand = std::move(operand);
    *out = std::move(e);
    return true;
  }

  std::string_view text_;
  mutable size_t pos_offset_ = 0;  // PosOf's last offset and position
  mutable SourcePos pos_at_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool in_where_ = false;
  ParseError error_;
};

}  // namespace

absl::StatusOr<Expr> Parse(std::string_view text, ParseError* error) {
  Parser parser(text);
  Expr e;
  if (parser.Run(&e)) return e;
  const ParseError& err = parser.error();
  if (error != nullptr) *error = err;
  return absl::InvalidArgumentError(absl::StrCat("line ", err.line, ", column ", err.column, ": ", err.message));
}

}  // namespace facet::segments
