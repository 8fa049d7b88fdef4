// AVX2 matrix-vector products over weights as stored (f16/bf16 widened in registers).
#include "engine/cpu/simd_avx2.h"

namespace hh::cpu::avx2 {

namespace {

// Dot products of four weight rows with one x, sharing each load of x; four independent
// accumulators keep the loads of four row streams in flight, which is what a memory-bound
// decode needs.
template <typename W>
inline void dot4(const W* w0, const W* w1, const W* w2, const W* w3, const float* x, int64_t n,
                 float* out) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
         a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(load8(w0 + i), xv, a0);
    a1 = _mm256_fmadd_ps(load8(w1 + i), xv, a1);
    a2 = _mm256_fmadd_ps(load8(w2 + i), xv, a2);
    a3 = _mm256_fmadd_ps(load8(w3 + i), xv, a3);
  }
  if (i < n) {
    const int64_t m = n - i;
    const __m256 xv = load_partial(x + i, m);
    a0 = _mm256_fmadd_ps(load_partial(w0 + i, m), xv, a0);
    a1 = _mm256_fmadd_ps(load_partial(w1 + i, m), xv, a1);
    a2 = _mm256_fmadd_ps(load_partial(w2 + i, m), xv, a2);
    a3 = _mm256_fmadd_ps(load_partial(w3 + i, m), xv, a3);
  }
  // Transpose-and-add the four accumulators into one vector of four sums.
  const __m256 s01 = _mm256_hadd_ps(a0, a1), s23 = _mm256_hadd_ps(a2, a3);
  const __m256 s = _mm256_hadd_ps(s01, s23);
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
}

template <typename W>
inline float dot1(const W* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(load8(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load8(w + i), _mm256_loadu_ps(x + i), a0);
  if (i < n) a1 = _mm256_fmadd_ps(load_partial(w + i, n - i), load_partial(x + i, n - i), a1);
  return hsum(_mm256_add_ps(a0, a1));
}

template <typename W>
void matvec_t(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
              float* y, int64_t ldy) {
  const W* base = static_cast<const W*>(w.data);
  const int64_t n = w.cols;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const W* w0 = base + r * n;
    float sums[4];
    // For T > 1 the four rows stay in L1 while every token passes over them.
    for (int64_t t = 0; t < T; ++t) {
      dot4(w0, w0 + n, w0 + 2 * n, w0 + 3 * n, x + t * ldx, n, sums);
      float* yt = y + t * ldy + (r - r0);
      yt[0] = sums[0];
      yt[1] = sums[1];
      yt[2] = sums[2];
      yt[3] = sums[3];
    }
  }
  for (; r < r1; ++r) {
    for (int64_t t = 0; t < T; ++t) y[t * ldy + (r - r0)] = dot1(base + r * n, x + t * ldx, n);
  }
}

}  // namespace

void matvec(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
            float* y, int64_t ldy) {
  visit_model_dtype(w.type,
                    [&](auto tag) { matvec_t<decltype(tag)>(w, r0, r1, x, T, ldx, y, ldy); });
}

}  // namespace hh::cpu::avx2
