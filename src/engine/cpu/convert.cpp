// Conversions between f32 activations and tensors in a model dtype (weight tiles for sgemm,
// embedding rows, keys and values written to the cache).
#include <cstring>

#include "engine/cpu/kernels.h"

namespace hh::cpu::portable {

void rows_to_f32(const MatView& w, int64_t r0, int64_t r1, float* out) {
  visit_model_dtype(w.type, [&](auto tag) {
    using W = decltype(tag);
    const W* src = static_cast<const W*>(w.data) + r0 * w.cols;
    const int64_t n = (r1 - r0) * w.cols;
    for (int64_t i = 0; i < n; ++i) out[i] = to_f32(src[i]);
  });
}

void f32_to(const float* x, int64_t n, ElemType type, void* out) {
  switch (type) {
    case ElemType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case ElemType::F16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(out)[i] = f32_to_f16(x[i]);
      return;
    case ElemType::BF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(out)[i] = f32_to_bf16(x[i]);
      return;
    default:
      fail_usage("cannot store f32 values as {}", elem_name(type));
  }
}

}  // namespace hh::cpu::portable
