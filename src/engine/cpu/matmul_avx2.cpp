// AVX2 matrix-vector products over weights as stored (f16/bf16 widened in registers).
#include "engine/cpu/simd_avx2.h"

namespace hh::cpu::avx2 {

namespace {

// One row's dot product with x, walking the row front to back. Rows are taken one after another
// rather than several side by side: interleaving a few row streams that share a 4 KiB page (two
// 2 KiB f16 rows do) defeats the hardware prefetcher and halved the bandwidth of a decode matvec
// on Zen 3 (9 vs 20 GB/s per core). Four accumulators hide the FMA latency.
template <typename W>
inline float dot_row(const W* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
         a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(load8(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(load8(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(load8(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load8(w + i), _mm256_loadu_ps(x + i), a0);
  if (i < n) a1 = _mm256_fmadd_ps(load_partial(w + i, n - i), load_partial(x + i, n - i), a1);
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

template <typename W>
void matvec_t(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
              float* y, int64_t ldy) {
  const W* base = static_cast<const W*>(w.data);
  const int64_t n = w.cols;
  // For T > 1 the row stays in L1 while every token passes over it.
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t t = 0; t < T; ++t) y[t * ldy + (r - r0)] = dot_row(base + r * n, x + t * ldx, n);
  }
}

}  // namespace

void matvec(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
            float* y, int64_t ldy) {
  visit_model_dtype(w.type,
                    [&](auto tag) { matvec_t<decltype(tag)>(w, r0, r1, x, T, ldx, y, ldy); });
}

}  // namespace hh::cpu::avx2
