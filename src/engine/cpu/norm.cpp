// RMSNorm: out = x * weight / sqrt(mean(x^2) + eps), per row.
#include <omp.h>

#include <cmath>

#include "engine/cpu/cpu_ops.h"

namespace hh::cpu {

namespace portable {
void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}
}  // namespace portable

void CpuOps::rms_norm(const float* x, const Array& weight, float eps, int64_t rows, int64_t n,
                      float* out) {
  ProfileScope scope(profiler_, cost::kNorm);
  if (!weight.valid() || weight.type() != ElemType::F32 || weight.count() != n ||
      weight.space() == MemorySpace::Device) {
    fail_usage("norm weight must be {} host f32 values, got {}", n,
               weight.valid() ? weight.type_name() + shape_string(weight.shape()) : "nothing");
  }
  const float* w = weight.data<float>();
  // Decode normalises a handful of rows: a parallel region would cost more than it saves.
#pragma omp parallel for num_threads(threads_) schedule(static) if (rows * n >= 65536)
  for (int64_t r = 0; r < rows; ++r) k_->rms_norm(x + r * n, w, eps, n, out + r * n);
}

}  // namespace hh::cpu
