#include "segments/ast.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace facet::segments {
namespace {

constexpr TimeMs kMinuteMs = 60'000;
constexpr TimeMs kHourMs = 60 * kMinuteMs;
constexpr TimeMs kDayMs = 24 * kHourMs;

// Shortest text that reads back as `v`; plain notation for ordinary
// magnitudes, exponent notation for very large or small ones.
std::string FormatNumber(double v) {
  char buf[64];
  double a = std::fabs(v);
  std::to_chars_result r = (a == 0 || (a >= 1e-6 && a < 1e16))
                               ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof(buf), v);
  if (r.ec != std::errc()) return absl::StrCat(v);
  return std::string(buf, r.ptr);
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += absl::StrFormat("\\u%04X", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void AppendPath(std::string_view prefix, const std::vector<std::string>& path, std::string* out) {
  *out += prefix;
  for (const std::string& part : path) {
    *out += '.';
    *out += IsIdentifier(part) ? part : Quote(part);
  }
}

// In the largest unit that divides `ms` exactly. Windows are whole minutes
// when parsed; anything finer is rounded up to a minute.
std::string FormatDuration(TimeMs ms) {
  if (ms % kDayMs == 0) return absl::StrCat(ms / kDayMs, "d");
  if (ms % kHourMs == 0) return absl::StrCat(ms / kHourMs, "h");
  return absl::StrCat((ms + kMinuteMs - 1) / kMinuteMs, "m");
}

std::string FormatRadius(double meters) {
  std::string km = FormatNumber(meters / 1000);
  double back = 0;
  auto [ptr, ec] = std::from_chars(km.data(), km.data() + km.size(), back);
  if (meters >= 1000 && ec == std::errc() && back * 1000 == meters) return km + "km";
  return FormatNumber(meters) + "m";
}

std::string FormatLiteral(const Literal& v) {
  if (const double* d = std::get_if<double>(&v)) return FormatNumber(*d);
  if (const std::string* s = std::get_if<std::string>(&v)) return Quote(*s);
  return std::get<bool>(v) ? "TRUE" : "FALSE";
}

const char* OpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "=";
}

const char* FnName(AggregateFn fn) {
  switch (fn) {
    case AggregateFn::kCount:
      return "count";
    case AggregateFn::kSum:
      return "sum";
    case AggregateFn::kAvg:
      return "avg";
    case AggregateFn::kMin:
      return "min";
    case AggregateFn::kMax:
      return "max";
    case AggregateFn::kDaysSinceLast:
      return "days_since_last";
    case AggregateFn::kDaysSinceFirst:
      return "days_since_first";
    case AggregateFn::kHourShare:
      return "hour_share";
  }
  return "count";
}

void AppendExpr(const Expr& e, std::string* out);

// "Event" [WHERE condition]
void AppendStep(const Operand& o, std::string* out) {
  *out += Quote(o.event);
  if (o.where != nullptr) {
    *out += " WHERE ";
    AppendExpr(*o.where, out);
  }
}

void AppendOperand(const Operand& o, std::string* out) {
  switch (o.kind) {
    case Operand::Kind::kTrait:
      AppendPath("trait", o.path, out);
      return;
    case Operand::Kind::kProperty:
      AppendPath("properties", o.path, out);
      return;
    case Operand::Kind::kFirstTouch:
      AppendPath("first_touch", o.path, out);
      return;
    case Operand::Kind::kLastTouch:
      AppendPath("last_touch", o.path, out);
      return;
    case Operand::Kind::kAggregate:
      break;
  }
  *out += FnName(o.fn);
  *out += '(';
  AppendStep(o, out);
  switch (o.fn) {
    case AggregateFn::kSum:
    case AggregateFn::kAvg:
    case AggregateFn::kMin:
    case AggregateFn::kMax:
      *out += ", ";
      AppendPath("properties", o.value_path, out);
      break;
    case AggregateFn::kHourShare:
      absl::StrAppend(out, ", ", o.from_hour, ", ", o.to_hour);
      break;
    default:
      break;
  }
  if (o.window_ms != 0) absl::StrAppend(out, ", ", FormatDuration(o.window_ms));
  *out += ')';
}

void AppendChild(const Expr& child, bool parenthesize, std::string* out) {
  if (parenthesize) *out += '(';
  AppendExpr(child, out);
  if (parenthesize) *out += ')';
}

void AppendExpr(const Expr& e, std::string* out) {
  switch (e.kind) {
    case Expr::Kind::kAnd:
    case Expr::Kind::kOr: {
      std::string_view sep = e.kind == Expr::Kind::kAnd ? " AND " : " OR ";
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) *out += sep;
        const Expr& c = e.children[i];
        // An OR inside an AND needs parentheses; a chain directly inside a
        // chain of the same kind only occurs in hand-built trees.
        bool paren = c.kind == e.kind || (e.kind == Expr::Kind::kAnd && c.kind == Expr::Kind::kOr);
        AppendChild(c, paren, out);
      }
      return;
    }
    case Expr::Kind::kNot: {
      *out += "NOT ";
      if (e.children.empty()) return;
      const Expr& c = e.children[0];
      AppendChild(c, c.kind == Expr::Kind::kAnd || c.kind == Expr::Kind::kOr, out);
      return;
    }
    case Expr::Kind::kCompare:
      AppendOperand(e.operand, out);
      absl::StrAppend(out, " ", OpText(e.op), " ", e.values.empty() ? "NULL" : FormatLiteral(e.values[0]));
      return;
    case Expr::Kind::kBetween:
      AppendOperand(e.operand, out);
      absl::StrAppend(out, e.negated ? " NOT BETWEEN " : " BETWEEN ");
      if (e.values.size() == 2) {
        absl::StrAppend(out, FormatLiteral(e.values[0]), " AND ", FormatLiteral(e.values[1]));
      }
      return;
    case Expr::Kind::kIn:
      AppendOperand(e.operand, out);
      *out += e.negated ? " NOT IN (" : " IN (";
      for (size_t i = 0; i < e.values.size(); ++i) {
        if (i > 0) *out += ", ";
        *out += FormatLiteral(e.values[i]);
      }
      *out += ')';
      return;
    case Expr::Kind::kIsNull:
      AppendOperand(e.operand, out);
      *out += e.negated ? " IS NOT NULL" : " IS NULL";
      return;
    case Expr::Kind::kContains:
      AppendOperand(e.operand, out);
      *out += e.negated ? " NOT CONTAINS " : " CONTAINS ";
      if (!e.values.empty()) *out += FormatLiteral(e.values[0]);
      return;
    case Expr::Kind::kTagRef:
      absl::StrAppend(out, "tag(", Quote(e.name), ")");
      return;
    case Expr::Kind::kSegmentRef:
      absl::StrAppend(out, "segment(", Quote(e.name), ")");
      return;
    case Expr::Kind::kWithin:
      absl::StrAppend(out, "within(", FormatNumber(e.latitude), ", ", FormatNumber(e.longitude), ", ",
                      FormatRadius(e.radius_m), ")");
      return;
    case Expr::Kind::kSequence:
      *out += "sequence(";
      for (const Operand& step : e.steps) {
        AppendStep(step, out);
        *out += ", ";
      }
      *out += FormatDuration(e.gap_ms);
      if (e.window_ms != 0) absl::StrAppend(out, ", ", FormatDuration(e.window_ms));
      *out += ')';
      return;
  }
}

void CollectOperandRefs(const Operand& o, std::vector<std::string>* tags, std::vector<std::string>* segments) {
  if (o.where != nullptr) CollectRefs(*o.where, tags, segments);
}

}  // namespace

std::string ToString(const Expr& e) {
  std::string out;
  AppendExpr(e, &out);
  return out;
}

void CollectRefs(const Expr& e, std::vector<std::string>* tags, std::vector<std::string>* segments) {
  if (e.kind == Expr::Kind::kTagRef && tags != nullptr) tags->push_back(e.name);
  if (e.kind == Expr::Kind::kSegmentRef && segments != nullptr) segments->push_back(e.name);
  for (const Expr& child : e.children) CollectRefs(child, tags, segments);
  CollectOperandRefs(e.operand, tags, segments);
  for (const Operand& step : e.steps) CollectOperandRefs(step, tags, segments);
}

}  // namespace facet::segments
