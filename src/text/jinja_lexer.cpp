#include "text/jinja_lexer.h"

#include <cmath>
#include <cstdlib>

#include "text/jinja_value.h"
#include "util/error.h"

namespace hh::jinja {

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

SourcePos source_pos(std::string_view source, uint32_t offset) {
  SourcePos pos;
  const size_t end = std::min<size_t>(offset, source.size());
  size_t line_start = 0;
  for (size_t i = 0; i < end; ++i) {
    if (source[i] == '\n') {
      ++pos.line;
      line_start = i + 1;
    }
  }
  pos.column = static_cast<uint32_t>(utf8_length(source.substr(line_start, end - line_start))) + 1;
  return pos;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& name) : src_(source), name_(name) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    push(Tok::Eof, static_cast<uint32_t>(src_.size()));
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail_at(size_t offset, const std::string& what) {
    const SourcePos p = source_pos(src_, static_cast<uint32_t>(offset));
    throw TemplateSyntaxError(
        fmt::format("{}:{}:{}: syntax error: {}", name_, p.line, p.column, what), p.line, p.column);
  }

  Token& push(Tok type, size_t offset, std::string text = {}) {
    Token t;
    t.type = type;
    t.offset = static_cast<uint32_t>(offset);
    t.text = std::move(text);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  // Length of Python-whitespace at `pos` (\s in Python's re).
  size_t space_run(size_t pos) const {
    size_t p = pos;
    while (p < src_.size()) {
      size_t next;
      const uint32_t cp = utf8_decode(src_, p, &next);
      if (!is_py_space(cp)) break;
      p = next;
    }
    return p - pos;
  }

  // Python's str.rstrip() on text.
  static void rstrip_spaces(std::string& text) {
    size_t end = text.size();
    while (end > 0) {
      size_t start = end - 1;
      while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      size_t next;
      const uint32_t cp = utf8_decode(text, start, &next);
      if (next != end || !is_py_space(cp)) break;
      end = start;
    }
    text.resize(end);
  }

  // The data before a tag, with the tag's whitespace control applied.
  void emit_data(std::string text, size_t offset, char sign, bool lstrip_allowed) {
    if (sign == '-') {
      rstrip_spaces(text);
    } else if (sign != '+' && lstrip_allowed) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting_) {
        bool all_space = l_pos < text.size();
        for (size_t p = l_pos; p < text.size() && all_space;) {
          size_t next;
          all_space = is_py_space(utf8_decode(text, p, &next));
          p = next;
        }
        if (all_space) text.resize(l_pos);
      }
    }
    if (!text.empty()) push(Tok::Data, offset, std::move(text));
  }

  // Matches `{%(-|+|)\s*WORD\s*` at pos; returns the end or npos.
  size_t match_block_word(size_t pos, std::string_view word) const {
    if (src_.compare(pos, 2, "{%") != 0) return std::string::npos;
    size_t p = pos + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p += space_run(p);
    if (src_.compare(p, word.size(), word) != 0) return std::string::npos;
    p += word.size();
    if (p < src_.size() && is_name_char(src_[p])) return std::string::npos;
    return p + space_run(p);
  }

  // A block end at `p` (`+%}`, `-%}` + whitespace, `%}` + one newline); returns its end or npos.
  size_t match_block_end(size_t p) const {
    if (src_.compare(p, 3, "+%}") == 0) return p + 3;
    if (src_.compare(p, 3, "-%}") == 0) return p + 3 + space_run(p + 3);
    if (src_.compare(p, 2, "%}") == 0) return p + 2 + (p + 2 < src_.size() && src_[p + 2] == '\n');
    return std::string::npos;
  }

  void lex_root() {
    // Earliest "{{", "{%" or "{#"; the rest is data when there is none.
    size_t start = pos_;
    for (;;) {
      start = src_.find('{', start);
      if (start == std::string::npos || start + 1 >= src_.size()) {
        push(Tok::Data, pos_, src_.substr(pos_));
        pos_ = src_.size();
        return;
      }
      const char c = src_[start + 1];
      if (c == '{' || c == '%' || c == '#') break;
      ++start;
    }
    const char kind = src_[start + 1];
    const char sign = start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+')
                          ? src_[start + 2]
                          : '\0';
    std::string text = src_.substr(pos_, start - pos_);
    const size_t text_offset = pos_;

    if (kind == '%') {
      const size_t raw_end = match_block_word(start, "raw");
      if (raw_end != std::string::npos) {
        emit_data(std::move(text), text_offset, sign, true);
        lex_raw(start, raw_end);
        return;
      }
    }
    emit_data(std::move(text), text_offset, sign, kind != '{');
    const size_t after = start + 2 + (sign ? 1 : 0);
    if (kind == '#') {
      lex_comment(start, after);
    } else {
      lex_tag(start, after, kind == '%');
    }
  }

  void lex_comment(size_t start, size_t p) {
    const size_t close = src_.find("#}", p);
    if (close == std::string::npos) fail_at(start, "missing end of comment tag");
    size_t end = close + 2;
    if (close > p && src_[close - 1] == '-') {
      end += space_run(end);
    } else if (!(close > p && src_[close - 1] == '+') && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    line_starting_ = src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_raw(size_t start, size_t p) {
    // `{% raw -%}` strips what follows it; a plain `%}` here does not trim a newline.
    if (src_.compare(p, 3, "-%}") == 0) {
      p += 3 + space_run(p + 3);
    } else if (src_.compare(p, 2, "%}") == 0) {
      p += 2;
    } else {
      fail_at(start, "expected '%}' after 'raw'");
    }
    line_starting_ = src_[p - 1] == '\n';
    for (size_t q = src_.find("{%", p); q != std::string::npos; q = src_.find("{%", q + 1)) {
      const size_t word_end = match_block_word(q, "endraw");
      if (word_end == std::string::npos) continue;
      const size_t end = match_block_end(word_end);
      if (end == std::string::npos) continue;
      const char sign =
          q + 2 < src_.size() && (src_[q + 2] == '-' || src_[q + 2] == '+') ? src_[q + 2] : '\0';
      emit_data(src_.substr(p, q - p), p, sign, true);
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    fail_at(start, "missing end of raw directive");
  }

  void lex_tag(size_t start, size_t p, bool block) {
    push(block ? Tok::BlockBegin : Tok::VarBegin, start);
    std::string brackets;  // the closing brackets expected, innermost last
    while (p < src_.size()) {
      if (brackets.empty()) {
        size_t end = std::string::npos;
        if (block) {
          end = match_block_end(p);
        } else if (src_.compare(p, 3, "-}}") == 0) {
          end = p + 3 + space_run(p + 3);
        } else if (src_.compare(p, 2, "}}") == 0) {
          end = p + 2;
        }
        if (end != std::string::npos) {
          push(block ? Tok::BlockEnd : Tok::VarEnd, p);
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      const size_t spaces = space_run(p);
      if (spaces) {
        p += spaces;
        continue;
      }
      const char c = src_[p];
      if (is_digit(c)) {
        p = lex_number(p);
      } else if (is_name_start(c)) {
        size_t e = p;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        push(Tok::Name, p, src_.substr(p, e - p));
        p = e;
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        p = lex_operator(p, brackets);
      }
    }
    pos_ = p;  // end of input inside a tag: the parser reports what it expected
  }

  size_t lex_operator(size_t p, std::string& brackets) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (auto op : kTwo) {
      if (src_.compare(p, 2, op) == 0) {
        push(Tok::Op, p, std::string(op));
        return p + 2;
      }
    }
    const char c = src_[p];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
      size_t next;
      utf8_decode(src_, p, &next);
      fail_at(p, fmt::format("unexpected char '{}'", src_.substr(p, next - p)));
    }
    if (c == '(' || c == '[' || c == '{') {
      brackets.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    } else if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) fail_at(p, fmt::format("unexpected '{}'", c));
      if (brackets.back() != c) {
        fail_at(p, fmt::format("unexpected '{}', expected '{}'", c, brackets.back()));
      }
      brackets.pop_back();
    }
    push(Tok::Op, p, std::string(1, c));
    return p + 1;
  }

  // Digits with single '_' separators ((\d+_)*\d+); returns the end or `p` when none.
  size_t digit_run(size_t p, bool (*digit)(char)) const {
    size_t e = p;
    while (e < src_.size() && digit(src_[e])) {
      ++e;
      if (e + 1 < src_.size() && src_[e] == '_' && digit(src_[e + 1])) ++e;
    }
    return e;
  }

  size_t lex_number(size_t p) {
    auto dec = [](char c) { return c >= '0' && c <= '9'; };
    // float: digits then (.digits)? e[+-]?digits, or digits .digits
    const size_t int_end = digit_run(p, dec);
    size_t e = int_end;
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && dec(src_[e + 1]) &&
        (p == 0 || src_[p - 1] != '.')) {
      e = digit_run(e + 1, dec);
      is_float = true;
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E') && (p == 0 || src_[p - 1] != '.')) {
      size_t q = e + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && dec(src_[q])) {
        e = digit_run(q, dec);
        is_float = true;
      }
    }
    auto strip = [](std::string_view s) {
      std::string out;
      for (char ch : s) {
        if (ch != '_') out.push_back(ch);
      }
      return out;
    };
    if (is_float) {
      Token& t = push(Tok::Float, p);
      t.float_value = std::strtod(strip(std::string_view(src_).substr(p, e - p)).c_str(), nullptr);
      return e;
    }
    // Integer forms: 0b/0o/0x prefixes, [1-9](_?\d)*, 0(_?0)*.
    int base = 10;
    size_t digits_start = p;
    if (src_[p] == '0' && p + 1 < src_.size()) {
      const char x = static_cast<char>(src_[p + 1] | 0x20);
      if (x == 'b' || x == 'o' || x == 'x') {
        base = x == 'b' ? 2 : (x == 'o' ? 8 : 16);
        digits_start = p + 2;
      }
    }
    size_t end;
    if (base != 10) {
      // Separators may also follow the prefix: 0x_ff.
      end = digits_start;
      for (;;) {
        size_t q = end;
        if (q < src_.size() && src_[q] == '_') ++q;
        if (q >= src_.size()) break;
        const char ch = static_cast<char>(src_[q] | 0x20);
        const bool ok = base == 2   ? (ch == '0' || ch == '1')
                        : base == 8 ? (ch >= '0' && ch <= '7')
                                    : (dec(ch) || (ch >= 'a' && ch <= 'f'));
        if (!ok) break;
        end = q + 1;
      }
      if (end == digits_start) {  // "0x" alone: the integer is "0" and "x..." follows
        base = 10;
        digits_start = p;
        end = p + 1;
      }
    } else if (src_[p] == '0') {
      end = p + 1;
      while (end < src_.size()) {
        size_t q = end + (src_[end] == '_');
        if (q < src_.size() && src_[q] == '0') {
          end = q + 1;
        } else {
          break;
        }
      }
    } else {
      end = int_end;
    }
    Token& t = push(Tok::Int, p);
    const std::string digits =
        strip(std::string_view(src_).substr(digits_start, end - digits_start));
    errno = 0;
    const unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
      t.int_overflow = true;
    } else {
      t.int_value = static_cast<int64_t>(v);
    }
    return end;
  }

  // A quoted string with Python's escapes (what Jinja's unicode-escape decoding accepts).
  size_t lex_string(size_t p) {
    const char quote = src_[p];
    std::string out;
    size_t q = p + 1;
    for (;;) {
      if (q >= src_.size()) fail_at(p, "unexpected end of string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        out.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) fail_at(p, "unexpected end of string literal");
      const char e = src_[q + 1];
      q += 2;
      auto hex = [&](int count) {
        uint32_t v = 0;
        for (int i = 0; i < count; ++i) {
          const char h = q < src_.size() ? src_[q] : '\0';
          int d;
          if (h >= '0' && h <= '9') {
            d = h - '0';
          } else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') {
            d = (h | 0x20) - 'a' + 10;
          } else {
            fail_at(q, fmt::format("truncated \\{}{} escape", e, std::string(count, 'X')));
          }
          v = v * 16 + static_cast<uint32_t>(d);
          ++q;
        }
        return v;
      };
      switch (e) {
        case '\n':
          break;  // line continuation
        case '\\':
          out.push_back('\\');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
          append_utf8(out, hex(2));
          break;
        case 'u':
          append_utf8(out, hex(4));
          break;
        case 'U': {
          const uint32_t cp = hex(8);
          if (cp > 0x10FFFF) fail_at(q - 10, "illegal Unicode character");
          append_utf8(out, cp);
          break;
        }
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int i = 0; i < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++i) {
            v = v * 8 + static_cast<uint32_t>(src_[q++] - '0');
          }
          append_utf8(out, v);
          break;
        }
        case 'N':
          fail_at(q - 2, "\\N{...} escapes are not supported");
        default:  // unknown escapes stay as written, as in Python
          out.push_back('\\');
          out.push_back(e);
      }
    }
    push(Tok::String, p, std::move(out));
    return q + 1;
  }

  const std::string& src_;
  const std::string& name_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& name) {
  return Lexer(source, name).run();
}

}  // namespace hh::jinja
