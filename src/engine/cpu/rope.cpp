// Rotary position embedding, NeoX layout (Qwen3's): element i of a head is paired with element
// i + dh/2 and the pair is rotated by (pos) * theta^(-2i/dh).
#include <omp.h>

#include <cmath>

#include "engine/cpu/cpu_ops.h"
#include "engine/qwen3.h"

namespace hh::cpu {

namespace portable {
void rope(float* x, int64_t dh, const float* cos, const float* sin) {
  const int64_t half = dh / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i], b = x[i + half];
    x[i] = a * cos[i] - b * sin[i];
    x[i + half] = a * sin[i] + b * cos[i];
  }
}
}  // namespace portable

void CpuOps::rope(float* x, int64_t T, int64_t heads, int64_t dh, int64_t pos, float theta) {
  ProfileScope scope(profiler_, cost::kRope);
  const int64_t half = dh / 2;
  if (pos != rope_pos_ || T != rope_T_ || dh != rope_dh_ || theta != rope_theta_) {
    rope_cos_.resize(static_cast<size_t>(T * half));
    rope_sin_.resize(static_cast<size_t>(T * half));
    const std::vector<double> freq = rope_inv_freq(theta, dh);
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t t = 0; t < T; ++t) {
        const double angle = static_cast<double>(pos + t) * freq[static_cast<size_t>(i)];
        rope_cos_[static_cast<size_t>(t * half + i)] = static_cast<float>(std::cos(angle));
        rope_sin_[static_cast<size_t>(t * half + i)] = static_cast<float>(std::sin(angle));
      }
    }
    rope_pos_ = pos;
    rope_T_ = T;
    rope_dh_ = dh;
    rope_theta_ = theta;
  }
#pragma omp parallel for num_threads(threads_) schedule(static) if (T * heads * dh >= 65536)
  for (int64_t r = 0; r < T * heads; ++r) {
    const int64_t t = r / heads;
    k_->rope(x + r * dh, dh, rope_cos_.data() + t * half, rope_sin_.data() + t * half);
  }
}

}  // namespace hh::cpu
