#include "values/elem_type.h"

#include "util/error.h"

namespace hh {
namespace {

struct ElemInfo {
  ElemType type;
  std::string_view name;
  size_t size;
};

constexpr ElemInfo kElemInfo[] = {
    {ElemType::I8, "i8", 1},     {ElemType::I16, "i16", 2},   {ElemType::I32, "i32", 4},
    {ElemType::I64, "i64", 8},   {ElemType::U8, "u8", 1},     {ElemType::U16, "u16", 2},
    {ElemType::U32, "u32", 4},   {ElemType::U64, "u64", 8},   {ElemType::F16, "f16", 2},
    {ElemType::BF16, "bf16", 2}, {ElemType::F32, "f32", 4},   {ElemType::F64, "f64", 8},
    {ElemType::Bool, "bool", 1},
};

const ElemInfo& info(ElemType type) { return kElemInfo[static_cast<size_t>(type)]; }

}  // namespace

size_t elem_size(ElemType type) { return info(type).size; }
std::string_view elem_name(ElemType type) { return info(type).name; }

std::optional<ElemType> parse_elem_name(std::string_view name) {
  for (const auto& e : kElemInfo) {
    if (e.name == name) return e.type;
  }
  return std::nullopt;
}

bool is_float(ElemType t) {
  return t == ElemType::F16 || t == ElemType::BF16 || t == ElemType::F32 || t == ElemType::F64;
}
bool is_signed_int(ElemType t) {
  return t == ElemType::I8 || t == ElemType::I16 || t == ElemType::I32 || t == ElemType::I64;
}
bool is_unsigned_int(ElemType t) {
  return t == ElemType::U8 || t == ElemType::U16 || t == ElemType::U32 || t == ElemType::U64;
}
bool is_model_dtype(ElemType t) {
  return t == ElemType::F32 || t == ElemType::F16 || t == ElemType::BF16;
}

ElemType parse_model_dtype(std::string_view name) {
  auto t = parse_elem_name(name);
  if (!t || !is_model_dtype(*t)) {
    fail_usage("unknown dtype '{}': expected f32, f16 or bf16", name);
  }
  return *t;
}

}  // namespace hh
