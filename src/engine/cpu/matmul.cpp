// Matrix products with weights: decode (T small) is a memory-bound matrix-vector product over
// the weights as stored; prefill (T large) is compute-bound and goes to OpenBLAS sgemm on f32
// tiles of the weights, converted per thread into a bounded scratch.
#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "engine/cpu/cpu_ops.h"

namespace hh::cpu {

namespace {

// From this many tokens on, sgemm beats T matrix-vector passes (measured in bench/NOTES-cpu.md).
constexpr int64_t kBlasMinTokens = 8;
// Weight rows per sgemm call: wide, since each call re-packs the activations x (T, K), yet
// several tiles per matrix so that the threads share the work. A tile is converted to f32 in
// a per-thread scratch of at most kMaxTileElems floats (4 MB).
constexpr int64_t kTileRows = 256;
constexpr int64_t kMaxTileElems = 1 << 20;

template <typename W>
void matvec_t(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
              float* y, int64_t ldy) {
  const W* base = static_cast<const W*>(w.data);
  const int64_t n = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const W* row = base + r * n;
    for (int64_t t = 0; t < T; ++t) {
      const float* xt = x + t * ldx;
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      int64_t i = 0;
      for (; i + 4 <= n; i += 4) {
        for (int j = 0; j < 4; ++j) acc[j] += to_f32(row[i + j]) * xt[i + j];
      }
      for (; i < n; ++i) acc[0] += to_f32(row[i]) * xt[i];
      y[t * ldy + (r - r0)] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  }
}

}  // namespace

namespace portable {
void matvec(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
            float* y, int64_t ldy) {
  visit_model_dtype(w.type,
                    [&](auto tag) { matvec_t<decltype(tag)>(w, r0, r1, x, T, ldx, y, ldy); });
}
}  // namespace portable

void CpuOps::matmul(const float* x, int64_t T, const Array& w, float* y) {
  ProfileScope scope(profiler_, cost::kMatmul);
  matmul_view(x, T, mat_view(w), y);
}

void CpuOps::matmul_view(const float* x, int64_t T, const MatView& w, float* y) {
  const int64_t R = w.rows, K = w.cols;
  if (T < kBlasMinTokens) {
    // Each thread takes one contiguous band of rows, so it streams its part of the matrix once,
    // front to back. Every row is summed on its own, so results do not depend on the thread count.
#pragma omp parallel num_threads(threads_)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t r0 = R * id / nt, r1 = R * (id + 1) / nt;
      if (r1 > r0) k_->matvec(w, r0, r1, x, T, K, y + r0, R);
    }
    return;
  }
  // Tiles do not depend on the thread count either, so results are the same for any -t.
  const bool convert = w.type != ElemType::F32;
  const int64_t tile = std::max<int64_t>(16, std::min(kTileRows, kMaxTileElems / K / 16 * 16));
  const int64_t n_tiles = (R + tile - 1) / tile;
#pragma omp parallel num_threads(threads_)
  {
    float* buf =
        convert ? thread_scratch(omp_get_thread_num(), static_cast<size_t>(tile * K)) : nullptr;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n_tiles; ++i) {
      const int64_t r0 = i * tile, r1 = std::min(R, r0 + tile);
      const float* b = buf;
      if (convert) {
        k_->rows_to_f32(w, r0, r1, buf);
      } else {
        b = static_cast<const float*>(w.data) + r0 * K;
      }
      // y[:, r0:r1] = x (T, K) · b (r1-r0, K)ᵀ
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T),
                  static_cast<int>(r1 - r0), static_cast<int>(K), 1.0f, x, static_cast<int>(K), b,
                  static_cast<int>(K), 0.0f, y + r0, static_cast<int>(R));
    }
  }
}

}  // namespace hh::cpu
