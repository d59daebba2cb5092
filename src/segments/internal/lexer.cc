#include "segments/internal/lexer.h"

#include <charconv>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace facet::segments::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `code_point` as it should appear in a message: quoted if visible, else U+XXXX.
std::string ShowChar(uint32_t code_point) {
  bool invisible = code_point < 0x20 || code_point == 0x7F || (code_point >= 0x80 && code_point < 0xA0) ||
                   code_point == 0xA0 || code_point == 0xAD || code_point == 0x3000 ||
                   (code_point >= 0x2000 && code_point <= 0x200F) || (code_point >= 0x2028 && code_point <= 0x202F) ||
                   code_point == 0xFEFF;
  if (invisible) return absl::StrFormat("U+%04X", code_point);
  std::string s = "'";
  AppendUtf8(code_point, &s);
  s += "'";
  return s;
}

// A hint for characters that Chinese input methods and word processors put
// where ASCII punctuation belongs.
std::string Hint(uint32_t code_point) {
  if (code_point >= 0xFF01 && code_point <= 0xFF5E) {
    return absl::StrFormat(" (full-width); use '%c'", static_cast<char>(code_point - 0xFEE0));
  }
  switch (code_point) {
    case 0x3000:
      return " (full-width space); use a plain space";
    case 0x3001:
      return "; use ','";
    case 0x201C:
    case 0x201D:
    case 0x2018:
    case 0x2019:
      return "; use ASCII quotes \" or '";
    case '&':
      return "; use AND";
    case '|':
      return "; use OR";
    case '!':
      return "; use != or NOT";
    default:
      return "";
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> Run() {
    std::vector<Token> tokens;
    while (true) {
      SkipSpaceAndComments();
      Token t = Next();
      last_end_ = t.offset + t.text.size();
      bool last = t.kind == TokenKind::kEnd || t.kind == TokenKind::kError;
      tokens.push_back(std::move(t));
      if (last) return tokens;
    }
  }

 private:
  char At(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }

  void SkipSpaceAndComments() {
    while (i_ < text_.size()) {
      char c = text_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++i_;
      } else if (c == '-' && At(i_ + 1) == '-') {
        while (i_ < text_.size() && text_[i_] != '\n') ++i_;
      } else {
        return;
      }
    }
  }

  Token Error(size_t offset, std::string message) {
    Token t;
    t.kind = TokenKind::kError;
    t.offset = offset;
    t.text = text_.substr(offset, 0);
    t.value = std::move(message);
    return t;
  }

  Token Simple(TokenKind kind, size_t length) {
    Token t;
    t.kind = kind;
    t.offset = i_;
    t.text = text_.substr(i_, length);
    i_ += length;
    return t;
  }

  Token Next() {
    if (i_ >= text_.size()) {
      Token t;  // placed right after the last token, so messages point there
      t.offset = last_end_;
      return t;
    }
    char c = text_[i_];
    char n = At(i_ + 1);
    if (IsIdentStart(c)) {
      size_t start = i_;
      while (i_ < text_.size() && IsIdentChar(text_[i_])) ++i_;
      Token t;
      t.kind = TokenKind::kIdent;
      t.offset = start;
      t.text = text_.substr(start, i_ - start);
      return t;
    }
    if (IsDigit(c) || (c == '-' && IsDigit(n))) return Number();
    switch (c) {
      case '"':
      case '\'':
        return String(c);
      case '(':
        return Simple(TokenKind::kLParen, 1);
      case ')':
        return Simple(TokenKind::kRParen, 1);
      case ',':
        return Simple(TokenKind::kComma, 1);
      case '.':
        return Simple(TokenKind::kDot, 1);
      case '=':
        if (n == '=') return Error(i_, "unexpected '=='; use '='");
        return Simple(TokenKind::kEq, 1);
      case '!':
        if (n == '=') return Simple(TokenKind::kNe, 2);
        break;
      case '<':
        if (n == '=') return Simple(TokenKind::kLe, 2);
        if (n == '>') return Simple(TokenKind::kNe, 2);
        return Simple(TokenKind::kLt, 1);
      case '>':
        if (n == '=') return Simple(TokenKind::kGe, 2);
        return Simple(TokenKind::kGt, 1);
      default:
        break;
    }
    uint32_t code_point = static_cast<unsigned char>(c);
    if (code_point >= 0x80 && DecodeUtf8(text_, i_, &code_point) == 0) {
      return Error(i_, absl::StrFormat("invalid UTF-8 byte 0x%02X", static_cast<unsigned char>(c)));
    }
    return Error(i_, absl::StrCat("unexpected character ", ShowChar(code_point), Hint(code_point)));
  }

  Token Number() {
    size_t start = i_;
    if (text_[i_] == '-') ++i_;
    while (IsDigit(At(i_))) ++i_;
    if (At(i_) == '.' && IsDigit(At(i_ + 1))) {
      ++i_;
      while (IsDigit(At(i_))) ++i_;
    }
    if (At(i_) == 'e' || At(i_) == 'E') {
      size_t j = i_ + 1;
      if (At(j) == '+' || At(j) == '-') ++j;
      if (IsDigit(At(j))) {
        while (IsDigit(At(j))) ++j;
        i_ = j;
      }
    }
    size_t number_end = i_;
    while (IsLetter(At(i_))) ++i_;
    Token t;
    t.kind = TokenKind::kNumber;
    t.offset = start;
    t.text = text_.substr(start, i_ - start);
    t.number_text = text_.substr(start, number_end - start);
    t.unit = text_.substr(number_end, i_ - number_end);
    const char* first = t.number_text.data();
    const char* last = first + t.number_text.size();
    auto [ptr, ec] = std::from_chars(first, last, t.number);
    // The digits scanned above always form a valid number, so the only
    // failure is a value beyond the range of a double.
    if (ec != std::errc() || ptr != last) {
      return Error(start, absl::StrCat("number out of range: '", std::string(t.number_text), "'"));
    }
    return t;
  }

  Token String(char quote) {
    size_t start = i_++;
    std::string value;
    while (true) {
      if (i_ >= text_.size() || text_[i_] == '\n' || text_[i_] == '\r') return Error(start, "unterminated string");
      char c = text_[i_];
      if (c == quote) {
        ++i_;
        break;
      }
      if (c == '\\') {
        size_t escape = i_;
        char e = At(i_ + 1);
        if (i_ + 1 >= text_.size() || e == '\n' || e == '\r') return Error(start, "unterminated string");
        switch (e) {
          case '"':
          case '\'':
          case '\\':
            value += e;
            i_ += 2;
            continue;
          case 'n':
            value += '\n';
            i_ += 2;
            continue;
          case 't':
            value += '\t';
            i_ += 2;
            continue;
          case 'u':
            break;
          default: {
            uint32_t cp = static_cast<unsigned char>(e);
            if (cp >= 0x80 && DecodeUtf8(text_, i_ + 1, &cp) == 0) cp = 0xFFFD;
            std::string shown = ShowChar(cp);
            shown = shown[0] == '\'' ? absl::StrCat("'\\", shown.substr(1)) : absl::StrCat("'\\' followed by ", shown);
            return Error(escape, absl::StrCat("unknown escape ", shown,
                                              " in string; expected \\\", \\', \\\\, \\n, \\t or \\uXXXX"));
          }
        }
        uint32_t unit = 0;
        if (!Hex4(i_ + 2, &unit)) return Error(escape, "\\u must be followed by 4 hex digits");
        i_ += 6;
        if (unit >= 0xDC00 && unit <= 0xDFFF) {
          return Error(escape, absl::StrFormat("unpaired surrogate \\u%04X in string", unit));
        }
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          uint32_t low = 0;
          if (At(i_) != '\\' || At(i_ + 1) != 'u' || !Hex4(i_ + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
            return Error(escape, absl::StrFormat("unpaired surrogate \\u%04X in string", unit));
          }
          i_ += 6;
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        }
        AppendUtf8(unit, &value);
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x80) {
        value += c;
        ++i_;
        continue;
      }
      uint32_t cp = 0;
      size_t length = DecodeUtf8(text_, i_, &cp);
      if (length == 0) {
        return Error(i_, absl::StrFormat("invalid UTF-8 byte 0x%02X", static_cast<unsigned char>(c)));
      }
      value.append(text_.substr(i_, length));
      i_ += length;
    }
    Token t;
    t.kind = TokenKind::kString;
    t.offset = start;
    t.text = text_.substr(start, i_ - start);
    t.value = std::move(value);
    return t;
  }

  bool Hex4(size_t at, uint32_t* out) const {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int h = HexValue(At(at + k));
      if (h < 0) return false;
      v = v * 16 + static_cast<uint32_t>(h);
    }
    *out = v;
    return true;
  }

  std::string_view text_;
  size_t i_ = 0;
  size_t last_end_ = 0;  // byte offset just past the last token
};

}  // namespace

std::vector<Token> Tokenize(std::string_view text) { return Lexer(text).Run(); }

bool IsKeyword(std::string_view ident, std::string_view keyword) {
  if (ident.size() != keyword.size()) return false;
  for (size_t i = 0; i < ident.size(); ++i) {
    char c = ident[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != keyword[i]) return false;
  }
  return true;
}

SourcePos PosAt(std::string_view text, size_t offset) {
  SourcePos pos;
  if (offset > text.size()) offset = text.size();
  for (size_t i = 0; i < offset; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++pos.column;
    }
  }
  return pos;
}

size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* code_point) {
  if (i >= s.size()) return 0;
  unsigned char b0 = static_cast<unsigned char>(s[i]);
  size_t length;
  uint32_t cp;
  uint32_t min;
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    unsigned char b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    *out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    *out += static_cast<char>(0xC0 | (code_point >> 6));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    *out += static_cast<char>(0xE0 | (code_point >> 12));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (code_point >> 18));
    *out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace facet::segments::internal
