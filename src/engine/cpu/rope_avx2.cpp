#include "engine/cpu/simd_avx2.h"

namespace hh::cpu::avx2 {

void rope(float* x, int64_t dh, const float* cos, const float* sin) {
  const int64_t half = dh / 2;
  float* hi = x + half;
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(hi + i);
    const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
    _mm256_storeu_ps(x + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
    _mm256_storeu_ps(hi + i, _mm256_fmadd_ps(a, s, _mm256_mul_ps(b, c)));
  }
  for (; i < half; ++i) {
    const float a = x[i], b = hi[i];
    x[i] = a * cos[i] - b * sin[i];
    hi[i] = a * sin[i] + b * cos[i];
  }
}

}  // namespace hh::cpu::avx2
