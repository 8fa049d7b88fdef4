#include "values/text_format.h"

#include <locale.h>
#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>

#include "util/half.h"

namespace hh {
namespace {

// Nested arrays deeper than the binary format's largest rank cannot be stored anyway; the bound
// also keeps the recursive parser's stack small on hostile input.
constexpr int kMaxDepth = 127;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_word_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '.'; }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string show_char(char c) {
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", c);
  return fmt::format("byte 0x{:02x}", static_cast<uint8_t>(c));
}

// strtod in the "C" locale: a chat front end may set LC_NUMERIC for its own output, and a data
// file must not change meaning with it.
locale_t c_locale() {
  static const locale_t loc = newlocale(LC_ALL_MASK, "C", nullptr);
  return loc;
}

int elem_bits(ElemType t) { return static_cast<int>(elem_size(t) * 8); }

// Stores a float literal as `type` at `dst` (any alignment): `d` for f64, else `f` (the literal
// read as f32) rounded to nearest even. Returns whether the stored value is infinite, so that a
// literal too large for the type is caught after rounding.
bool store_float(ElemType type, double d, float f, std::byte* dst) {
  switch (type) {
    case ElemType::F64:
      store_unaligned(dst, d);
      return std::isinf(d);
    case ElemType::F32:
      store_unaligned(dst, f);
      return std::isinf(f);
    case ElemType::F16: {
      const uint16_t h = f32_to_f16(f);
      store_unaligned(dst, h);
      return std::isinf(f16_to_f32(h));
    }
    default: {
      const uint16_t b = f32_to_bf16(f);
      store_unaligned(dst, b);
      return std::isinf(bf16_to_f32(b));
    }
  }
}

}  // namespace

struct TextParser::Literal {
  enum class Kind : uint8_t { Int, Decimal, Nan, Inf, Bool };
  Kind kind = Kind::Int;
  bool negative = false;
  bool typed = false;  // an explicit suffix (bool and special floats count as typed)
  ElemType type = ElemType::I32;
  uint64_t magnitude = 0;  // Int
  bool bool_value = false;
  size_t pos = 0;        // first character, for messages
  size_t num_begin = 0;  // Decimal: the digits (sign excluded), underscores included
  size_t num_end = 0;
};

TextParser::TextParser(std::string_view text, std::string name, size_t pos)
    : text_(text), name_(std::move(name)), pos_(std::min(pos, text.size())) {}

void TextParser::error_at(size_t pos, const std::string& what) const {
  pos = std::min(pos, text_.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (text_[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  fail_format("{}:{}:{}: {}", name_, line, pos - line_start + 1, what);
}

void TextParser::skip_space() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (is_space(c)) {
      ++pos_;
    } else if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '-') {
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
}

bool TextParser::at_end() {
  skip_space();
  return pos_ >= text_.size();
}

void TextParser::expect_end() {
  if (!at_end()) {
    error_at(pos_, fmt::format("unexpected {} after the value", show_char(text_[pos_])));
  }
}

bool TextParser::skip_word(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) return false;
  const size_t after = pos_ + word.size();
  if (after < text_.size() && is_word_char(text_[after])) return false;
  pos_ = after;
  return true;
}

Array TextParser::parse() {
  skip_space();
  if (pos_ >= text_.size()) error_at(pos_, "expected a value, found the end of the input");
  const size_t start = pos_;
  std::vector<Literal> literals;
  Shape shape;
  if (text_[pos_] == '[') {
    parse_elements(literals, shape, 1);
  } else if (text_.substr(pos_, 5) == "empty" &&
             (pos_ + 5 >= text_.size() || !is_word_char(text_[pos_ + 5]))) {
    return parse_empty(start);
  } else {
    literals.push_back(parse_literal());
  }
  return build(literals, shape);
}

void TextParser::parse_elements(std::vector<Literal>& out, Shape& shape, int depth) {
  const size_t open = pos_;
  if (depth > kMaxDepth) error_at(open, fmt::format("arrays nested deeper than {}", kMaxDepth));
  ++pos_;  // '['
  skip_space();
  if (pos_ < text_.size() && text_[pos_] == ']') {
    error_at(open, "empty array literal: write empty([0]TYPE) to give its type");
  }
  Shape row_shape;
  int64_t rows = 0;
  for (;;) {
    skip_space();
    const size_t elem_start = pos_;
    Shape elem_shape;
    if (pos_ < text_.size() && text_[pos_] == '[') {
      parse_elements(out, elem_shape, depth + 1);
    } else {
      out.push_back(parse_literal());
    }
    if (rows == 0) {
      row_shape = elem_shape;
    } else if (elem_shape != row_shape) {
      const auto describe = [](const Shape& s) {
        return s.empty() ? std::string("a scalar") : "an array of shape " + shape_string(s);
      };
      error_at(elem_start, fmt::format("irregular array: element {} is {}, element 0 is {}", rows,
                                       describe(elem_shape), describe(row_shape)));
    }
    ++rows;
    skip_space();
    if (pos_ >= text_.size()) error_at(pos_, "unterminated array: expected ',' or ']'");
    if (text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    if (text_[pos_] == ']') {
      ++pos_;
      break;
    }
    error_at(pos_, fmt::format("expected ',' or ']' in array, found {}", show_char(text_[pos_])));
  }
  shape.clear();
  shape.push_back(rows);
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
}

Array TextParser::parse_empty(size_t start) {
  pos_ += 5;  // "empty"
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != '(') error_at(pos_, "expected '(' after empty");
  ++pos_;
  Shape shape;
  for (;;) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '[') break;
    ++pos_;
    skip_space();
    const size_t num = pos_;
    int64_t d = 0;
    bool any = false;
    while (pos_ < text_.size() && is_digit(text_[pos_])) {
      if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) error_at(num, "dimension too large");
      d = d * 10 + (text_[pos_++] - '0');
      any = true;
    }
    if (!any) error_at(num, "expected a dimension size in empty(...)");
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != ']') error_at(pos_, "expected ']' in empty(...)");
    ++pos_;
    if (shape.size() >= size_t(kMaxDepth)) error_at(num, "too many dimensions in empty(...)");
    shape.push_back(d);
  }
  if (shape.empty()) error_at(pos_, "expected a shape such as [0][3] in empty(...)");
  const size_t type_pos = pos_;
  while (pos_ < text_.size() && (is_alpha(text_[pos_]) || is_digit(text_[pos_]))) ++pos_;
  const std::string_view type_name = text_.substr(type_pos, pos_ - type_pos);
  const auto type = parse_elem_name(type_name);
  if (!type) error_at(type_pos, fmt::format("unknown element type '{}' in empty(...)", type_name));
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != ')') error_at(pos_, "expected ')' after empty(...");
  ++pos_;
  bool has_zero = false;
  for (int64_t d : shape) has_zero |= d == 0;
  if (!has_zero) {
    error_at(start,
             fmt::format("empty({}{}) has no zero dimension", shape_string(shape), type_name));
  }
  // Any other dimension may be large: the array has no elements, but the shape must be valid.
  int64_t partial = 1;
  for (int64_t d : shape) {
    if (d != 0 && partial > std::numeric_limits<int64_t>::max() / d) {
      error_at(start, "shape of empty(...) has too many elements");
    }
    if (d != 0) partial *= d;
  }
  return Array::allocate(*type, shape);
}

TextParser::Literal TextParser::parse_literal() {
  const size_t start = pos_;
  bool negative = false;
  if (pos_ < text_.size() && text_[pos_] == '-') {
    negative = true;
    ++pos_;
  }
  if (pos_ >= text_.size()) error_at(pos_, "expected a value, found the end of the input");
  const char c = text_[pos_];
  if (is_digit(c)) return parse_number(start, negative);
  if (is_alpha(c)) {
    if (!negative && skip_word("true")) {
      Literal l{.kind = Literal::Kind::Bool,
                .typed = true,
                .type = ElemType::Bool,
                .bool_value = true,
                .pos = start};
      return l;
    }
    if (!negative && skip_word("false")) {
      Literal l{.kind = Literal::Kind::Bool,
                .typed = true,
                .type = ElemType::Bool,
                .bool_value = false,
                .pos = start};
      return l;
    }
    return parse_special_float(start, negative);
  }
  error_at(pos_, fmt::format("expected a value, found {}", show_char(c)));
}

TextParser::Literal TextParser::parse_special_float(size_t start, bool negative) {
  size_t end = pos_;
  while (end < text_.size() && is_word_char(text_[end])) ++end;
  const std::string_view word = text_.substr(pos_, end - pos_);
  const size_t dot = word.find('.');
  if (dot != std::string_view::npos) {
    const auto type = parse_elem_name(word.substr(0, dot));
    const std::string_view what = word.substr(dot + 1);
    if (type && is_float(*type) && (what == "nan" || what == "inf")) {
      pos_ = end;
      Literal l;
      l.kind = what == "nan" ? Literal::Kind::Nan : Literal::Kind::Inf;
      l.negative = negative;
      l.typed = true;
      l.type = *type;
      l.pos = start;
      return l;
    }
  }
  error_at(start, fmt::format("expected a value, found '{}'", word));
}

TextParser::Literal TextParser::parse_number(size_t start, bool negative) {
  Literal l;
  l.negative = negative;
  l.pos = start;
  bool overflow = false;
  auto accumulate = [&](uint64_t base, int digit) {
    if (l.magnitude > (std::numeric_limits<uint64_t>::max() - uint64_t(digit)) / base) {
      overflow = true;
    } else {
      l.magnitude = l.magnitude * base + uint64_t(digit);
    }
  };
  const bool hex = text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X";
  // "0b" starts a binary literal only before a binary digit: 0bf16 is a zero of type bf16.
  const bool bin = (text_.substr(pos_, 2) == "0b" || text_.substr(pos_, 2) == "0B") &&
                   pos_ + 2 < text_.size() && (text_[pos_ + 2] == '0' || text_[pos_ + 2] == '1');
  if (hex || bin) {
    pos_ += 2;
    const uint64_t base = hex ? 16 : 2;
    bool any = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      const int v = hex ? hex_value(c) : (c == '0' || c == '1' ? c - '0' : -1);
      if (v >= 0) {
        accumulate(base, v);
        any = true;
      } else if (c != '_') {
        break;
      }
      ++pos_;
    }
    if (!any)
      error_at(start, fmt::format("{} literal without digits", hex ? "hexadecimal" : "binary"));
  } else {
    l.num_begin = pos_;
    while (pos_ < text_.size() && (is_digit(text_[pos_]) || text_[pos_] == '_')) {
      if (text_[pos_] != '_') accumulate(10, text_[pos_] - '0');
      ++pos_;
    }
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && is_digit(text_[pos_ + 1])) {
      l.kind = Literal::Kind::Decimal;
      ++pos_;
      while (pos_ < text_.size() && (is_digit(text_[pos_]) || text_[pos_] == '_')) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (p < text_.size() && is_digit(text_[p])) {
        l.kind = Literal::Kind::Decimal;
        while (p < text_.size() && (is_digit(text_[p]) || text_[p] == '_')) ++p;
        pos_ = p;
      }
    }
    l.num_end = pos_;
  }
  // Optional type suffix.
  if (pos_ < text_.size() && is_alpha(text_[pos_])) {
    const size_t suffix_pos = pos_;
    while (pos_ < text_.size() && (is_alpha(text_[pos_]) || is_digit(text_[pos_]))) ++pos_;
    const std::string_view suffix = text_.substr(suffix_pos, pos_ - suffix_pos);
    const auto type = parse_elem_name(suffix);
    if (!type || *type == ElemType::Bool) {
      error_at(suffix_pos, fmt::format("unknown type suffix '{}'", suffix));
    }
    l.typed = true;
    l.type = *type;
    if (l.kind == Literal::Kind::Decimal && !is_float(*type)) {
      error_at(start, fmt::format("a decimal literal cannot have the integer type {}", suffix));
    }
  }
  if (pos_ < text_.size() && is_word_char(text_[pos_])) {
    error_at(pos_, fmt::format("unexpected {} after a number", show_char(text_[pos_])));
  }
  if (l.kind == Literal::Kind::Int && overflow) {
    error_at(start, "integer literal does not fit in 64 bits");
  }
  return l;
}

Array TextParser::build(const std::vector<Literal>& literals, const Shape& shape) {
  // The element type: the explicitly typed elements must agree; otherwise i32, or f64 when any
  // element is a decimal.
  const Literal* typed = nullptr;
  bool any_decimal = false;
  for (const auto& l : literals) {
    any_decimal |= l.kind == Literal::Kind::Decimal;
    if (!l.typed) continue;
    if (typed == nullptr) {
      typed = &l;
    } else if (l.type != typed->type) {
      error_at(l.pos, fmt::format("element of type {} in an array of {} (set by an earlier "
                                  "element)",
                                  elem_name(l.type), elem_name(typed->type)));
    }
  }
  const ElemType type = typed ? typed->type : (any_decimal ? ElemType::F64 : ElemType::I32);
  Array out = Array::allocate(type, shape, /*zero=*/false);
  std::byte* dst = out.raw();
  const size_t esize = elem_size(type);
  std::string digits;
  for (const auto& l : literals) {
    const auto mismatch = [&](std::string_view what) {
      error_at(l.pos, fmt::format("{} cannot be a value of type {}", what, elem_name(type)));
    };
    switch (l.kind) {
      case Literal::Kind::Bool:
        if (type != ElemType::Bool) mismatch(l.bool_value ? "true" : "false");
        *reinterpret_cast<uint8_t*>(dst) = l.bool_value ? 1 : 0;
        break;
      case Literal::Kind::Int:
        if (type == ElemType::Bool) mismatch("an integer");
        if (is_signed_int(type) || is_unsigned_int(type)) {
          const int bits = elem_bits(type);
          const uint64_t max_pos = is_signed_int(type)
                                       ? (uint64_t{1} << (bits - 1)) - 1
                                       : (bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1);
          const uint64_t max_neg = is_signed_int(type) ? uint64_t{1} << (bits - 1) : 0;
          if (l.negative ? l.magnitude > max_neg : l.magnitude > max_pos) {
            error_at(l.pos, fmt::format("{}{} is out of range for {}", l.negative ? "-" : "",
                                        l.magnitude, elem_name(type)));
          }
          // Two's complement of the magnitude, truncated to the element width.
          const uint64_t bits_value = l.negative ? ~l.magnitude + 1 : l.magnitude;
          std::memcpy(dst, &bits_value, esize);  // little endian: the low bytes
        } else {
          const float f =
              l.negative ? -static_cast<float>(l.magnitude) : static_cast<float>(l.magnitude);
          const double d =
              l.negative ? -static_cast<double>(l.magnitude) : static_cast<double>(l.magnitude);
          if (store_float(type, d, f, dst)) {
            error_at(l.pos, fmt::format("literal is out of range for {}", elem_name(type)));
          }
        }
        break;
      case Literal::Kind::Decimal: {
        if (!is_float(type)) mismatch("a decimal literal");
        digits.clear();
        if (l.negative) digits += '-';
        for (size_t i = l.num_begin; i < l.num_end; ++i) {
          if (text_[i] != '_') digits += text_[i];
        }
        // Overflow is an error; underflow to a subnormal or zero is the nearest value, as the
        // printer relies on for subnormals.
        errno = 0;
        char* end = nullptr;
        const bool overflowed =
            type == ElemType::F64
                ? store_float(type, strtod_l(digits.c_str(), &end, c_locale()), 0.0f, dst)
                : store_float(type, 0.0, strtof_l(digits.c_str(), &end, c_locale()), dst);
        if (overflowed) {
          error_at(l.pos, fmt::format("{} is out of range for {}", digits, elem_name(type)));
        }
        break;
      }
      case Literal::Kind::Nan:
      case Literal::Kind::Inf: {
        const float f = l.kind == Literal::Kind::Nan ? std::numeric_limits<float>::quiet_NaN()
                        : l.negative                 ? -std::numeric_limits<float>::infinity()
                                                     : std::numeric_limits<float>::infinity();
        store_float(type, static_cast<double>(f), f, dst);
        break;
      }
    }
    dst += esize;
  }
  return out;
}

Array parse_text_value(std::string_view text, std::string_view name) {
  TextParser parser(text, std::string(name));
  Array value = parser.parse();
  parser.expect_end();
  return value;
}

std::vector<Array> parse_text_values(std::string_view text, std::string_view name) {
  TextParser parser(text, std::string(name));
  std::vector<Array> values;
  while (!parser.at_end()) values.push_back(parser.parse());
  return values;
}

std::string format_scalar(ElemType type, const void* data) {
  const auto special = [&](double v, std::string_view suffix) -> std::string {
    if (std::isnan(v)) return fmt::format("{}.nan", suffix);
    if (std::isinf(v)) return fmt::format("{}{}.inf", v < 0 ? "-" : "", suffix);
    return {};
  };
  if (is_signed_int(type) || is_unsigned_int(type)) {
    // Little endian: the element is the low bytes; signed types sign-extend from their width.
    uint64_t bits = 0;
    std::memcpy(&bits, data, elem_size(type));
    const int shift = 64 - elem_bits(type);
    if (is_signed_int(type)) {
      return fmt::format("{}{}", static_cast<int64_t>(bits << shift) >> shift, elem_name(type));
    }
    return fmt::format("{}{}", bits, elem_name(type));
  }
  switch (type) {
    case ElemType::Bool:
      return load_unaligned<uint8_t>(data) != 0 ? "true" : "false";
    case ElemType::F64: {
      const double v = load_unaligned<double>(data);
      std::string s = special(v, "f64");
      // fmt's default float format is the shortest string that reads back to the same bits.
      return s.empty() ? fmt::format("{}f64", v) : s;
    }
    default: {
      const float v = type == ElemType::F32   ? load_unaligned<float>(data)
                      : type == ElemType::F16 ? f16_to_f32(load_unaligned<uint16_t>(data))
                                              : bf16_to_f32(load_unaligned<uint16_t>(data));
      std::string s = special(v, elem_name(type));
      // f16 and bf16 values are exact f32 values, so the shortest f32 string reads back exactly.
      return s.empty() ? fmt::format("{}{}", v, elem_name(type)) : s;
    }
  }
}

namespace {

void format_rows(std::string& out, const Array& a, size_t axis, const std::byte*& p) {
  out += '[';
  const int64_t n = a.shape()[axis];
  for (int64_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    if (axis + 1 < a.shape().size()) {
      format_rows(out, a, axis + 1, p);
    } else {
      out += format_scalar(a.type(), p);
      p += elem_size(a.type());
    }
  }
  out += ']';
}

}  // namespace

std::string format_value(const Array& value) {
  if (value.space() == MemorySpace::Device) {
    fail_usage("cannot print a {} array held in device memory", value.type_name());
  }
  if (value.rank() == 0) return format_scalar(value.type(), value.raw());
  if (value.count() == 0) {
    return fmt::format("empty({}{})", shape_string(value.shape()), elem_name(value.type()));
  }
  std::string out;
  const std::byte* p = value.raw();
  format_rows(out, value, 0, p);
  return out;
}

}  // namespace hh
