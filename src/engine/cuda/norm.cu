// RMSNorm of rows, and Qwen3's per-head query/key RMSNorm fused with RoPE and the KV-cache
// update (one pass over the new q, k and v instead of four).
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

namespace {

// Grid (rows); 256 threads stride over the row.
template <typename Out>
__global__ void rms_norm_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                float eps, int64_t n, void* __restrict__ out) {
  __shared__ float scratch[32];
  const float* row = x + blockIdx.x * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += row[i] * row[i];
  ss = block_sum(ss, scratch);
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    store_row_value<Out>(out, blockIdx.x, n, i, row[i] * scale * weight[i]);
  }
}

// Grid (T, h + kvh): block y < h is query head y, else key head y - h (which also copies value
// head y - h). Thread i < dh/2 owns the RoPE pair (i, i + dh/2).
template <typename E>
__global__ void qk_norm_rope_kernel(QkvRope p) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x, head = blockIdx.y, half = p.dh / 2;
  const int64_t pos = (p.pos_dev != nullptr ? *p.pos_dev : p.pos) + t;
  const bool is_q = head < p.h;
  const int64_t g = head - p.h;  // kv head (keys only)
  const float* src = is_q ? p.q + t * p.q_stride + head * p.dh : p.k + t * p.k_stride + g * p.dh;
  const float* w = is_q ? p.q_norm : p.k_norm;
  const int64_t i = threadIdx.x;
  const bool active = i < half;
  const float a = active ? src[i] : 0.0f, b = active ? src[i + half] : 0.0f;
  const float ss = block_sum(a * a + b * b, scratch);
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(p.dh) + p.eps);
  if (active) {
    const float an = a * scale * w[i], bn = b * scale * w[i + half];
    float cf, sf;
    rope_cos_sin(pos, p.inv_freq[i], &cf, &sf);
    const float ra = an * cf - bn * sf, rb = an * sf + bn * cf;
    if (is_q) {
      float* dst = p.q + t * p.q_stride + head * p.dh;
      dst[i] = ra;
      dst[i + half] = rb;
      if (p.q_split != nullptr) {
        store_row_value<SplitBf16Rows>(p.q_split, t * p.h + head, p.dh, i, ra);
        store_row_value<SplitBf16Rows>(p.q_split, t * p.h + head, p.dh, i + half, rb);
      }
    } else {
      E* dst = static_cast<E*>(p.k_cache) + (g * p.cs + pos) * p.dh;
      dst[i] = from_float<E>(ra);
      dst[i + half] = from_float<E>(rb);
    }
  }
  if (!is_q) {
    const float* vs = p.v + t * p.v_stride + g * p.dh;
    E* dst = static_cast<E*>(p.v_cache) + (g * p.cs + pos) * p.dh;
    for (int64_t j = threadIdx.x; j < p.dh; j += blockDim.x) dst[j] = from_float<E>(vs[j]);
  }
}

}  // namespace

void rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
              ElemType out_type, void* out, cudaStream_t stream) {
  if (rows == 0) return;
  visit_dtype(out_type, [&](auto tag) {
    using Out = decltype(tag);
    rms_norm_kernel<Out><<<static_cast<unsigned>(rows), 256, 0, stream>>>(x, weight, eps, n, out);
  });
  HH_CUDA_CHECK_LAUNCH();
}

void rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
              SplitBf16Rows, void* out, cudaStream_t stream) {
  if (rows == 0) return;
  rms_norm_kernel<SplitBf16Rows>
      <<<static_cast<unsigned>(rows), 256, 0, stream>>>(x, weight, eps, n, out);
  HH_CUDA_CHECK_LAUNCH();
}

void qk_norm_rope_store(ElemType type, const QkvRope& p, cudaStream_t stream) {
  if (p.T == 0) return;
  const auto threads = static_cast<unsigned>(std::max<int64_t>(32, ceil_div(p.dh / 2, 32) * 32));
  const dim3 grid(static_cast<unsigned>(p.T), static_cast<unsigned>(p.h + p.kvh));
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    qk_norm_rope_kernel<E><<<grid, threads, 0, stream>>>(p);
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
