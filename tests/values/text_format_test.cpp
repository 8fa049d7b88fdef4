#include "values/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "util/half.h"

namespace hh {
namespace {

std::string roundtrip(std::string_view text) { return format_value(parse_text_value(text)); }

std::string error_of(std::string_view text) {
  try {
    parse_text_value(text, "v.txt");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TextFormat, Scalars) {
  EXPECT_EQ(roundtrip("1i32"), "1i32");
  EXPECT_EQ(roundtrip("-3i64"), "-3i64");
  EXPECT_EQ(roundtrip("2.5f32"), "2.5f32");
  EXPECT_EQ(roundtrip("1f16"), "1f16");
  EXPECT_EQ(roundtrip("true"), "true");
  EXPECT_EQ(roundtrip("false"), "false");
  EXPECT_EQ(roundtrip("0x1Fu8"), "31u8");
  EXPECT_EQ(roundtrip("0b101i8"), "5i8");
  EXPECT_EQ(roundtrip("1_000_000i64"), "1000000i64");
  EXPECT_EQ(roundtrip("-128i8"), "-128i8");
  EXPECT_EQ(roundtrip("18446744073709551615u64"), "18446744073709551615u64");
  EXPECT_EQ(roundtrip("-9223372036854775808i64"), "-9223372036854775808i64");
  EXPECT_EQ(roundtrip("1e3f32"), "1000f32");
  EXPECT_EQ(roundtrip("-2.5E-3f64"), "-0.0025f64");
  EXPECT_EQ(roundtrip("-0f32"), "-0f32");
  EXPECT_EQ(roundtrip("0.1bf16"), "0.100097656bf16");
  EXPECT_EQ(roundtrip("0bf16"), "0bf16");
  EXPECT_EQ(roundtrip("-0b1i8"), "-1i8");
  // Untyped literals: integers are i32, decimals f64.
  EXPECT_EQ(roundtrip("7"), "7i32");
  EXPECT_EQ(roundtrip("1.5"), "1.5f64");
  EXPECT_EQ(roundtrip("2e2"), "200f64");
  EXPECT_EQ(roundtrip("f32.nan"), "f32.nan");
  EXPECT_EQ(roundtrip("-f64.inf"), "-f64.inf");
  EXPECT_EQ(roundtrip("f32.inf"), "f32.inf");
  EXPECT_EQ(roundtrip("f16.inf"), "f16.inf");
  EXPECT_EQ(roundtrip("bf16.nan"), "bf16.nan");
  EXPECT_EQ(parse_text_value("3u16").type(), ElemType::U16);
}

TEST(TextFormat, Arrays) {
  const Array a = parse_text_value("[[1,2],[3,4]]");
  EXPECT_EQ(a.type_name(), "[][]i32");
  EXPECT_EQ(a.shape(), (Shape{2, 2}));
  EXPECT_EQ(format_value(a), "[[1i32, 2i32], [3i32, 4i32]]");
  // The suffixed elements decide the type; the rest follow.
  EXPECT_EQ(roundtrip("[1, 2.5f32, 3]"), "[1f32, 2.5f32, 3f32]");
  EXPECT_EQ(roundtrip("[1, 2.5]"), "[1f64, 2.5f64]");
  EXPECT_EQ(roundtrip("[ true , false ]"), "[true, false]");
  EXPECT_EQ(roundtrip("[[[1u8]], [[2u8]]]"), "[[[1u8]], [[2u8]]]");
  EXPECT_EQ(roundtrip("empty([0][3]f32)"), "empty([0][3]f32)");
  EXPECT_EQ(roundtrip("empty( [2] [0] bool )"), "empty([2][0]bool)");
  EXPECT_EQ(parse_text_value("empty([0]i64)").shape(), (Shape{0}));
  EXPECT_EQ(roundtrip("-- leading comment\n[1i8, -- inside\n 2i8] -- trailing"), "[1i8, 2i8]");
}

TEST(TextFormat, SeveralValues) {
  const auto values = parse_text_values("1 2.0 [3i64]\n-- end");
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(format_value(values[1]), "2f64");
  EXPECT_TRUE(parse_text_values("  -- nothing\n").empty());
}

TEST(TextFormat, ErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("[1, 2"), "v.txt:1:6: unterminated array: expected ',' or ']'");
  EXPECT_EQ(error_of("[[1],\n [2, 3]]"),
            "v.txt:2:2: irregular array: element 1 is an array of shape [2], element 0 is an array "
            "of shape [1]");
  EXPECT_EQ(error_of("[1, [2]]"),
            "v.txt:1:5: irregular array: element 1 is an array of shape [1], element 0 is a "
            "scalar");
  EXPECT_EQ(error_of("300u8"), "v.txt:1:1: 300 is out of range for u8");
  EXPECT_EQ(error_of("-1u8"), "v.txt:1:1: -1 is out of range for u8");
  EXPECT_EQ(error_of("128i8"), "v.txt:1:1: 128 is out of range for i8");
  EXPECT_EQ(error_of("99999999999999999999"), "v.txt:1:1: integer literal does not fit in 64 bits");
  EXPECT_EQ(error_of("1.5i32"), "v.txt:1:1: a decimal literal cannot have the integer type i32");
  EXPECT_EQ(error_of("1x"), "v.txt:1:2: unknown type suffix 'x'");
  EXPECT_EQ(error_of("1bool"), "v.txt:1:2: unknown type suffix 'bool'");
  EXPECT_EQ(error_of("[]"),
            "v.txt:1:1: empty array literal: write empty([0]TYPE) to give its type");
  EXPECT_EQ(error_of("[1i32, 2i64]"),
            "v.txt:1:8: element of type i64 in an array of i32 (set by an earlier element)");
  EXPECT_EQ(error_of("[1.5, 2i32]"), "v.txt:1:2: a decimal literal cannot be a value of type i32");
  EXPECT_EQ(error_of("[true, 1]"), "v.txt:1:8: an integer cannot be a value of type bool");
  EXPECT_EQ(error_of("empty([3]f32)"), "v.txt:1:1: empty([3]f32) has no zero dimension");
  EXPECT_EQ(error_of("empty([0]f128)"), "v.txt:1:10: unknown element type 'f128' in empty(...)");
  EXPECT_EQ(error_of("truex"), "v.txt:1:1: expected a value, found 'truex'");
  EXPECT_EQ(error_of("f32.nah"), "v.txt:1:1: expected a value, found 'f32.nah'");
  EXPECT_EQ(error_of("1e39f32"), "v.txt:1:1: 1e39 is out of range for f32");
  EXPECT_EQ(error_of("1e309"), "v.txt:1:1: 1e309 is out of range for f64");
  EXPECT_EQ(error_of("70000f16"), "v.txt:1:1: literal is out of range for f16");
  EXPECT_EQ(error_of("1-2"), "v.txt:1:2: unexpected '-' after the value");
  EXPECT_EQ(error_of("1 2"), "v.txt:1:3: unexpected '2' after the value");
  EXPECT_EQ(error_of(""), "v.txt:1:1: expected a value, found the end of the input");
  EXPECT_EQ(error_of("\n  @"), "v.txt:2:3: expected a value, found '@'");
  EXPECT_EQ(error_of(std::string_view("\x01", 1)), "v.txt:1:1: expected a value, found byte 0x01");
  EXPECT_EQ(error_of("0x"), "v.txt:1:1: hexadecimal literal without digits");
  EXPECT_EQ(error_of(std::string(200, '[')), "v.txt:1:128: arrays nested deeper than 127");
}

// print -> parse is the identity on the bits of every value (NaN payloads aside).
template <typename Bits>
void expect_float_roundtrip(ElemType type, Bits bits) {
  Array a = Array::allocate(type, {});
  std::memcpy(a.raw(), &bits, sizeof bits);
  const std::string text = format_value(a);
  const Array b = parse_text_value(text);
  ASSERT_EQ(b.type(), type) << text;
  Bits back;
  std::memcpy(&back, b.raw(), sizeof back);
  const bool nan = text.find(".nan") != std::string::npos;
  if (!nan) {
    EXPECT_EQ(back, bits) << text;
  }
}

TEST(TextFormat, EveryHalfValueRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    expect_float_roundtrip(ElemType::F16, static_cast<uint16_t>(bits));
    expect_float_roundtrip(ElemType::BF16, static_cast<uint16_t>(bits));
  }
}

TEST(TextFormat, RandomFloatsRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t r = rng();
    expect_float_roundtrip(ElemType::F32, static_cast<uint32_t>(r));
    expect_float_roundtrip(ElemType::F64, r);
  }
  // Subnormals, extremes and signed zeros.
  for (uint32_t bits : {0x00000001u, 0x007fffffu, 0x80000000u, 0x7f7fffffu, 0xff800000u}) {
    expect_float_roundtrip(ElemType::F32, bits);
  }
  for (uint64_t bits : {uint64_t{1}, uint64_t{0x8000000000000000}, uint64_t{0x7fefffffffffffff}}) {
    expect_float_roundtrip(ElemType::F64, bits);
  }
}

TEST(TextFormat, IntegersOfEveryWidthRoundTrip) {
  std::mt19937_64 rng(7);
  for (ElemType t : kAllElemTypes) {
    if (is_float(t)) continue;
    Array a = Array::allocate(t, {64});
    for (size_t i = 0; i < a.bytes(); ++i) {
      reinterpret_cast<uint8_t*>(a.raw())[i] = t == ElemType::Bool ? rng() % 2 : rng();
    }
    const Array b = parse_text_value(format_value(a));
    ASSERT_EQ(b.type_name(), a.type_name());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0) << format_value(a);
  }
}

}  // namespace
}  // namespace hh
