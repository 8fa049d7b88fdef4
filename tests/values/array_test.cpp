#include "values/array.h"

#include <gtest/gtest.h>

#include <cmath>

#include "util/half.h"

namespace hh {
namespace {

TEST(ElemType, NamesRoundTrip) {
  for (ElemType t : kAllElemTypes) {
    auto parsed = parse_elem_name(elem_name(t));
    ASSERT_TRUE(parsed.has_value()) << elem_name(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_FALSE(parse_elem_name("f128").has_value());
  EXPECT_EQ(elem_size(ElemType::BF16), 2u);
  EXPECT_THROW(parse_model_dtype("i32"), UsageError);
  EXPECT_EQ(parse_model_dtype("bf16"), ElemType::BF16);
}

TEST(Half, F16RoundTripsEveryFiniteValue) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = f16_to_f32(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << bits;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // tie rounds to even
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie to even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(Array, AllocateSliceReshape) {
  Array a = Array::allocate(ElemType::F32, {3, 4});
  EXPECT_EQ(a.count(), 12);
  EXPECT_EQ(a.bytes(), 48u);
  EXPECT_EQ(a.type_name(), "[][]f32");
  for (int i = 0; i < 12; ++i) a.data<float>()[i] = static_cast<float>(i);
  Array row = a.slice(2);
  EXPECT_EQ(row.shape(), Shape{4});
  EXPECT_EQ(row.data<float>()[1], 9.0f);
  EXPECT_THROW(a.slice(3), UsageError);
  EXPECT_THROW(a.reshaped({5}), UsageError);
  EXPECT_EQ(a.reshaped({12}).data<float>()[11], 11.0f);
  Array copy = a.clone();
  copy.data<float>()[0] = 42;
  EXPECT_EQ(a.data<float>()[0], 0.0f);
}

TEST(Array, RejectsViewsOutsideStorage) {
  auto storage = allocate_host(16);
  EXPECT_THROW(Array(ElemType::F32, {5}, storage, 0), UsageError);
  EXPECT_THROW(Array(ElemType::F32, {1}, storage, 2), UsageError);  // misaligned
  EXPECT_THROW(Array(ElemType::F32, {-1}, storage, 0), UsageError);
  EXPECT_THROW(Array::allocate(ElemType::F64, {int64_t{1} << 40, int64_t{1} << 30}), UsageError);
}

TEST(Array, Scalars) {
  Array s = Array::scalar<int64_t>(ElemType::I64, -7);
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.type_name(), "i64");
  EXPECT_EQ(s.scalar_value<int64_t>(), -7);
  EXPECT_THROW(s.scalar_value<int32_t>(), UsageError);
}

TEST(Storage, MemoryIsAccounted) {
  const auto before = memory_in_use()["host"];
  {
    auto s = allocate_host(1 << 20);
    EXPECT_EQ(memory_in_use()["host"], before + (1 << 20));
  }
  EXPECT_EQ(memory_in_use()["host"], before);
}

}  // namespace
}  // namespace hh
