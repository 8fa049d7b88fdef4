#pragma once
// Futhark's text syntax for values: primitives (`1i32`, `-3i64`, `0x1Fu8`, `0b101i8`, `2.5f32`,
// `1f16`, `true`, `f32.nan`, `-f64.inf`; an integer without a suffix is an i32, a decimal an
// f64), arrays (`[[1,2],[3,4]]`, every row of the same shape, the element type taken from the
// suffixed elements) and empty arrays (`empty([0][3]f32)`), with `--` comments. "bf16" is
// accepted as a suffix, as everywhere in hedgehog.
//
// The printer writes every element with its suffix and floats with the fewest digits that read
// back to the same bits, so print -> parse is the identity for every value (NaN payloads aside).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "values/array.h"

namespace hh {

// Parses values one after another from `text`. Errors are FormatError "NAME:LINE:COL: what".
class TextParser {
 public:
  // `pos` lets a caller start inside a larger buffer (a data file mixing binary and text values);
  // line and column are still counted from the start of `text`.
  TextParser(std::string_view text, std::string name, size_t pos = 0);

  // Skips whitespace and comments; true when nothing else remains.
  bool at_end();
  // Throws FormatError naming the first character after the last value unless at_end().
  void expect_end();
  // The next value; throws FormatError when there is none or it is malformed.
  Array parse();
  size_t position() const { return pos_; }

 private:
  struct Literal;
  void skip_space();
  bool skip_word(std::string_view word);
  Literal parse_literal();
  Literal parse_number(size_t start, bool negative);
  Literal parse_special_float(size_t start, bool negative);
  void parse_elements(std::vector<Literal>& out, Shape& shape, int depth);
  Array parse_empty(size_t start);
  Array build(const std::vector<Literal>& literals, const Shape& shape);
  [[noreturn]] void error_at(size_t pos, const std::string& what) const;

  std::string_view text_;
  std::string name_;
  size_t pos_;
};

// Exactly one value (comments and whitespace around it are fine).
Array parse_text_value(std::string_view text, std::string_view name = "<text>");
// All values in `text`.
std::vector<Array> parse_text_values(std::string_view text, std::string_view name = "<text>");

// "12i32", "2.5f32", "[[1i32, 2i32], [3i32, 4i32]]", "empty([0][3]f32)".
std::string format_value(const Array& value);
// One element of type `type` stored at `data`.
std::string format_scalar(ElemType type, const void* data);

}  // namespace hh
