#pragma once
// Primitive element types of the value model. Names follow Futhark's type syntax; bf16 is
// hedgehog's one extension (Futhark has no bf16), written "bf16" in type names and in the
// binary data format's four-character type field.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hh {

enum class ElemType : uint8_t { I8, I16, I32, I64, U8, U16, U32, U64, F16, BF16, F32, F64, Bool };

inline constexpr ElemType kAllElemTypes[] = {
    ElemType::I8,  ElemType::I16, ElemType::I32,  ElemType::I64, ElemType::U8,
    ElemType::U16, ElemType::U32, ElemType::U64,  ElemType::F16, ElemType::BF16,
    ElemType::F32, ElemType::F64, ElemType::Bool};

size_t elem_size(ElemType type);
// "i8" ... "f64", "bf16", "bool".
std::string_view elem_name(ElemType type);
std::optional<ElemType> parse_elem_name(std::string_view name);
bool is_float(ElemType type);
bool is_signed_int(ElemType type);
bool is_unsigned_int(ElemType type);

// The engine's storage dtypes ("E" in DESIGN.md): f32, f16, bf16.
bool is_model_dtype(ElemType type);
// Parses "f32" | "f16" | "bf16"; throws UsageError otherwise.
ElemType parse_model_dtype(std::string_view name);

}  // namespace hh
