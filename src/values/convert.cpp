#include "values/convert.h"

#include "util/half.h"

namespace hh {
namespace {

// Every float type goes through f32, except f64 -> f64 (handled as no conversion). f64 -> f16 /
// bf16 rounds twice (to f32, then to 16 bits); model weights are never stored as f64.
float load_as_f32(ElemType type, const std::byte* p) {
  switch (type) {
    case ElemType::F16:
      return f16_to_f32(load_unaligned<uint16_t>(p));
    case ElemType::BF16:
      return bf16_to_f32(load_unaligned<uint16_t>(p));
    case ElemType::F32:
      return load_unaligned<float>(p);
    default:
      return static_cast<float>(load_unaligned<double>(p));
  }
}

}  // namespace

Array convert_float_array(const Array& value, ElemType to) {
  if (!is_float(value.type()) || !is_float(to)) {
    fail_usage("cannot convert {} to {}: only floating-point types convert", value.type_name(),
               elem_name(to));
  }
  if (value.type() == to) return value;
  if (value.space() == MemorySpace::Device) {
    fail_usage("cannot convert a {} array held in device memory", value.type_name());
  }
  Array out = Array::allocate(to, value.shape(), /*zero=*/false);
  const std::byte* src = value.raw();
  std::byte* dst = out.raw();
  const int64_t n = value.count();
  const size_t in_size = elem_size(value.type());
  const ElemType from = value.type();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const std::byte* s = src + static_cast<size_t>(i) * in_size;
    switch (to) {
      case ElemType::F64:
        reinterpret_cast<double*>(dst)[i] = load_as_f32(from, s);
        break;
      case ElemType::F32:
        reinterpret_cast<float*>(dst)[i] = load_as_f32(from, s);
        break;
      case ElemType::F16:
        reinterpret_cast<uint16_t*>(dst)[i] = f32_to_f16(load_as_f32(from, s));
        break;
      default:
        reinterpret_cast<uint16_t*>(dst)[i] = f32_to_bf16(load_as_f32(from, s));
        break;
    }
  }
  return out;
}

}  // namespace hh
