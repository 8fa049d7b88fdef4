#include <cmath>

#include "engine/cpu/simd_avx2.h"

namespace hh::cpu::avx2 {

void softmax(float* x, int64_t n) {
  int64_t i = 0;
  __m256 mv = _mm256_set1_ps(-INFINITY);
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  float m = hmax(mv);
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  const __m256 mb = _mm256_set1_ps(m);
  __m256 sv = _mm256_setzero_ps();
  i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mb));
    _mm256_storeu_ps(x + i, e);
    sv = _mm256_add_ps(sv, e);
  }
  float sum = hsum(sv);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  const __m256 iv = _mm256_set1_ps(inv);
  i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
  for (; i < n; ++i) x[i] *= inv;
}

namespace {

template <typename W>
void axpy_rows_t(const MatView& w, int64_t r0, int64_t r1, const float* a, float* out) {
  const W* base = static_cast<const W*>(w.data);
  const int64_t cols = w.cols;
  int64_t c = 0;
  // Columns in blocks of 32 held in four accumulators across all rows.
  for (; c + 32 <= cols; c += 32) {
    __m256 o0 = _mm256_loadu_ps(out + c), o1 = _mm256_loadu_ps(out + c + 8),
           o2 = _mm256_loadu_ps(out + c + 16), o3 = _mm256_loadu_ps(out + c + 24);
    for (int64_t r = r0; r < r1; ++r) {
      const W* row = base + r * cols + c;
      const __m256 ar = _mm256_broadcast_ss(a + (r - r0));
      o0 = _mm256_fmadd_ps(ar, load8(row), o0);
      o1 = _mm256_fmadd_ps(ar, load8(row + 8), o1);
      o2 = _mm256_fmadd_ps(ar, load8(row + 16), o2);
      o3 = _mm256_fmadd_ps(ar, load8(row + 24), o3);
    }
    _mm256_storeu_ps(out + c, o0);
    _mm256_storeu_ps(out + c + 8, o1);
    _mm256_storeu_ps(out + c + 16, o2);
    _mm256_storeu_ps(out + c + 24, o3);
  }
  for (; c + 8 <= cols; c += 8) {
    __m256 o = _mm256_loadu_ps(out + c);
    for (int64_t r = r0; r < r1; ++r) {
      o = _mm256_fmadd_ps(_mm256_broadcast_ss(a + (r - r0)), load8(base + r * cols + c), o);
    }
    _mm256_storeu_ps(out + c, o);
  }
  for (; c < cols; ++c) {
    float o = out[c];
    for (int64_t r = r0; r < r1; ++r) o += a[r - r0] * to_f32(base[r * cols + c]);
    out[c] = o;
  }
}

}  // namespace

void axpy_rows(const MatView& w, int64_t r0, int64_t r1, const float* a, float* out) {
  visit_model_dtype(w.type, [&](auto tag) { axpy_rows_t<decltype(tag)>(w, r0, r1, a, out); });
}

}  // namespace hh::cpu::avx2
