// RMSNorm of rows, and Qwen3's per-head query/key RMSNorm fused with RoPE and the KV-cache
// update (one pass over the new q, k and v instead of four).
#include <string>

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

// One warp per head: grid (T, ceil((h + kvh) / kHeadsPerBlock)); head y < h is query head y,
// else key head y - h (whose warp also copies value head y - h). Lane j owns the RoPE pairs
// (i, i + dh/2) for i = j, j + 32, ... (at most kMaxPairs), kept in registers between the norm's
// sum and the rotation: no barrier, no shared memory.
constexpr int kHeadsPerBlock = 4;
constexpr int kMaxPairs = 4;  // head widths up to 256

template <typename E>
__global__ void __launch_bounds__(32 * kHeadsPerBlock) qk_norm_rope_kernel(QkvRope p) {
  const int lane = threadIdx.x & 31;
  const int64_t t = blockIdx.x;
  const int64_t head = int64_t{blockIdx.y} * kHeadsPerBlock + (threadIdx.x >> 5);
  if (head >= p.h + p.kvh) return;  // warp-uniform
  const int64_t half = p.dh / 2;
  const int64_t pos = (p.pos_dev != nullptr ? *p.pos_dev : p.pos) + t;
  const bool is_q = head < p.h;
  const int64_t g = head - p.h;  // kv head (keys only)
  const float* src = is_q ? p.q + t * p.q_stride + head * p.dh : p.k + t * p.k_stride + g * p.dh;
  const float* w = is_q ? p.q_norm : p.k_norm;
  float a[kMaxPairs], b[kMaxPairs];
  const float scale = load_head_pairs(src, static_cast<int>(half), lane, p.eps, a, b);
#pragma unroll
  for (int k = 0; k < kMaxPairs; ++k) {
    const int64_t i = lane + 32 * k;
    if (i >= half) break;
    const float an = a[k] * scale * w[i], bn = b[k] * scale * w[i + half];
    float cf, sf;
    rope_cos_sin(pos, p.inv_freq[i], &cf, &sf);
    const float ra = an * cf - bn * sf, rb = an * sf + bn * cf;
    if (is_q) {
      float* dst = p.q + t * p.q_stride + head * p.dh;
      dst[i] = ra;
      dst[i + half] = rb;
      if (p.q_split != nullptr) {
        store_row_value<SplitBf16Rows>(p.q_split, head * p.T + t, p.dh, i, ra);
        store_row_value<SplitBf16Rows>(p.q_split, head * p.T + t, p.dh, i + half, rb);
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
    for (int64_t j = lane; j < p.dh; j += 32) dst[j] = from_float<E>(vs[j]);
  }
}

}  // namespace

namespace {

template <typename Out>
void launch_rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
                     void* out, cudaStream_t stream) {
  if (rows == 0) return;
  rms_norm_kernel<Out><<<static_cast<unsigned>(rows), 256, 0, stream>>>(x, weight, eps, n, out);
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace

void rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
              ElemType out_type, void* out, cudaStream_t stream) {
  visit_dtype(out_type, [&](auto tag) {
    launch_rms_norm<decltype(tag)>(x, weight, eps, rows, n, out, stream);
  });
}

void rms_norm(const float* x, const float* weight, float eps, int64_t rows, int64_t n,
              SplitBf16Rows, void* out, cudaStream_t stream) {
  launch_rms_norm<SplitBf16Rows>(x, weight, eps, rows, n, out, stream);
}

void qk_norm_rope_store(ElemType type, const QkvRope& p, cudaStream_t stream) {
  if (p.T == 0) return;
  if (p.dh / 2 > 32 * kMaxPairs) {
    throw_usage("qk_norm_rope takes head widths up to " + std::to_string(64 * kMaxPairs) +
                ", not " + std::to_string(p.dh));
  }
  const dim3 grid(static_cast<unsigned>(p.T),
                  static_cast<unsigned>(ceil_div(p.h + p.kvh, kHeadsPerBlock)));
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    qk_norm_rope_kernel<E><<<grid, 32 * kHeadsPerBlock, 0, stream>>>(p);
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
