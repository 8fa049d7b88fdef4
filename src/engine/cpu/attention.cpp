// Causal grouped-query attention over the KV cache, which stays in the model dtype E: keys and
// values are widened to f32 on the fly by the matvec and axpy_rows kernels.
#include <omp.h>

#include <cmath>
#include <cstring>

#include "engine/cpu/cpu_ops.h"

namespace hh::cpu {

namespace portable {

void softmax(float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void axpy_rows(const MatView& w, int64_t r0, int64_t r1, const float* a, float* out) {
  visit_model_dtype(w.type, [&](auto tag) {
    using W = decltype(tag);
    const W* base = static_cast<const W*>(w.data);
    for (int64_t r = r0; r < r1; ++r) {
      const W* row = base + r * w.cols;
      const float ar = a[r - r0];
      for (int64_t c = 0; c < w.cols; ++c) out[c] += ar * to_f32(row[c]);
    }
  });
}

}  // namespace portable

namespace {

// Start of cache plane [layer][head] (cs, dh) of a (b, kvh, cs, dh) tensor.
std::byte* cache_plane(const Array& a, int64_t layer, int64_t head) {
  const int64_t plane = a.dim(2) * a.dim(3);
  return a.raw() + static_cast<size_t>((layer * a.dim(1) + head) * plane) * elem_size(a.type());
}

}  // namespace

void CpuOps::store_kv(const float* k, const float* v, KVCache& cache, int64_t layer, int64_t pos,
                      int64_t T) {
  ProfileScope scope(profiler_, cost::kAttention);
  const int64_t kvh = cache.n_kv_heads(), dh = cache.head_dim();
  const size_t row_bytes = static_cast<size_t>(dh) * elem_size(cache.dtype());
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t g = 0; g < kvh; ++g) {
      const size_t at = static_cast<size_t>(pos + t) * row_bytes;
      const int64_t src = (t * kvh + g) * dh;
      k_->f32_to(k + src, dh, cache.dtype(), cache_plane(cache.k, layer, g) + at);
      k_->f32_to(v + src, dh, cache.dtype(), cache_plane(cache.v, layer, g) + at);
    }
  }
}

void CpuOps::attention(const float* q, const KVCache& cache, int64_t layer, int64_t pos, int64_t T,
                       int64_t heads, float* out) {
  ProfileScope scope(profiler_, cost::kAttention);
  const int64_t kvh = cache.n_kv_heads(), cs = cache.context(), dh = cache.head_dim();
  const int64_t group = heads / kvh;
  const ElemType type = cache.dtype();
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const int64_t n_items = T * heads, max_len = pos + T;
#pragma omp parallel num_threads(threads_)
  {
    float* scores = thread_scratch(omp_get_thread_num(), static_cast<size_t>(max_len + dh));
    float* qs = scores + max_len;
    // Later tokens attend over more positions: hand out (token, head) items one at a time.
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n_items; ++i) {
      const int64_t t = i / heads, g = (i % heads) / group, n = pos + t + 1;
      const float* qi = q + i * dh;  // q is (T, heads, dh): item i = t * heads + head
      for (int64_t j = 0; j < dh; ++j) qs[j] = qi[j] * scale;
      const MatView keys{type, cache_plane(cache.k, layer, g), cs, dh};
      const MatView values{type, cache_plane(cache.v, layer, g), cs, dh};
      k_->matvec(keys, 0, n, qs, 1, dh, scores, n);  // scores (n) = K[0:n] · q / sqrt(dh)
      k_->softmax(scores, n);
      float* o = out + i * dh;
      std::memset(o, 0, static_cast<size_t>(dh) * sizeof(float));
      k_->axpy_rows(values, 0, n, scores, o);  // o (dh) = Σ_p scores[p] V[p]
    }
  }
}

}  // namespace hh::cpu
