// Decode matrix-vector products: y = W·x for one token over weights as stored (f32, f16 or
// bf16), memory-bound, so every weight byte is read once with 16-byte streaming loads, several
// in flight per thread. One warp (or 2 or 4 warps splitting the width, for matrices of few rows)
// computes one row; x is staged in shared memory, RMS-normalised there when the product has its
// norm fused in.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 4;  // 16-byte loads in flight per row and thread

// Dynamic shared memory: x (K f32), the block-sum scratch (32), per-warp partial sums (kWarps
// times 2 for SwiGLU's two rows).
size_t smem_bytes(int64_t K) { return (static_cast<size_t>(K) + 32 + 2 * kWarps) * sizeof(float); }

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

// Dot products of one warp's share of row `row` of w0 (and of w1 for SwiGLU) with xs.
template <typename E, bool kTwo, int kWarpsPerRow>
__device__ __forceinline__ void row_dot(const E* __restrict__ w0, const E* __restrict__ w1,
                                        int64_t row, int64_t K, bool vec, const float* xs, int part,
                                        int lane, float& acc0, float& acc1) {
  constexpr int kStride = 32 * kWarpsPerRow;
  if (vec) {
    constexpr int kN = kPack<E>;
    const int64_t P = K / kN;
    const uint4* r0 = reinterpret_cast<const uint4*>(w0 + row * K);
    const uint4* r1 = kTwo ? reinterpret_cast<const uint4*>(w1 + row * K) : nullptr;
    int64_t p = part * 32 + lane;
    // Issue every load of the unrolled group before the first use: latency is hidden by the
    // loads in flight, not by more warps.
    for (; p + (kUnroll - 1) * kStride < P; p += kUnroll * kStride) {
      uint4 u0[kUnroll], u1[kUnroll];
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) {
        u0[j] = load_stream(r0 + p + j * kStride);
        if constexpr (kTwo) u1[j] = load_stream(r1 + p + j * kStride);
      }
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) {
        const float* xp = xs + (p + j * kStride) * kN;
        float f[kN];
        unpack<E>(u0[j], f);
#pragma unroll
        for (int e = 0; e < kN; ++e) acc0 = fmaf(f[e], xp[e], acc0);
        if constexpr (kTwo) {
          unpack<E>(u1[j], f);
#pragma unroll
          for (int e = 0; e < kN; ++e) acc1 = fmaf(f[e], xp[e], acc1);
        }
      }
    }
    for (; p < P; p += kStride) {
      const float* xp = xs + p * kN;
      float f[kN];
      unpack<E>(load_stream(r0 + p), f);
#pragma unroll
      for (int e = 0; e < kN; ++e) acc0 = fmaf(f[e], xp[e], acc0);
      if constexpr (kTwo) {
        unpack<E>(load_stream(r1 + p), f);
#pragma unroll
        for (int e = 0; e < kN; ++e) acc1 = fmaf(f[e], xp[e], acc1);
      }
    }
  } else {
    // Widths that are no multiple of a 16-byte pack (small test models): element loads.
    const E* r0 = w0 + row * K;
    const E* r1 = kTwo ? w1 + row * K : nullptr;
    for (int64_t k = part * 32 + lane; k < K; k += kStride) {
      acc0 = fmaf(to_float(r0[k]), xs[k], acc0);
      if constexpr (kTwo) acc1 = fmaf(to_float(r1[k]), xs[k], acc1);
    }
  }
}

// Grid: one block per kWarps / kWarpsPerRow rows of all matrices together.
template <typename E, MatvecMode kMode, int kWarpsPerRow>
__global__ void __launch_bounds__(kThreads) matvec_kernel(MatvecArgs a, bool vec) {
  extern __shared__ float smem[];
  float* xs = smem;               // (K) the input, normalised when a norm is fused
  float* scratch = xs + a.K;      // (32)
  float* partial = scratch + 32;  // (2 * kWarps)
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t K = a.K;

  if (a.norm_weight != nullptr) {
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < K; i += kThreads) ss += a.x[i] * a.x[i];
    ss = block_sum(ss, scratch);
    const float scale = 1.0f / sqrtf(ss / static_cast<float>(K) + a.eps);
    for (int64_t i = threadIdx.x; i < K; i += kThreads) xs[i] = a.x[i] * scale * a.norm_weight[i];
  } else {
    for (int64_t i = threadIdx.x; i < K; i += kThreads) xs[i] = a.x[i];
  }
  __syncthreads();

  constexpr int kRowsPerBlock = kWarps / kWarpsPerRow;
  constexpr bool kTwo = kMode == MatvecMode::SwiGlu;
  const int part = warp % kWarpsPerRow;
  int64_t row = blockIdx.x * int64_t{kRowsPerBlock} + warp / kWarpsPerRow;
  int m = 0;
  if constexpr (!kTwo) {
    while (m < a.n_mats - 1 && row >= a.rows[m]) row -= a.rows[m++];
  }
  const bool valid = row < a.rows[m];
  float acc0 = 0.0f, acc1 = 0.0f;
  if (valid) {
    row_dot<E, kTwo, kWarpsPerRow>(static_cast<const E*>(a.w[m]),
                                   kTwo ? static_cast<const E*>(a.w[1]) : nullptr, row, K, vec, xs,
                                   part, lane, acc0, acc1);
  }
  acc0 = warp_sum(acc0);
  if constexpr (kTwo) acc1 = warp_sum(acc1);
  if constexpr (kWarpsPerRow > 1) {
    if (lane == 0) {
      partial[2 * warp] = acc0;
      partial[2 * warp + 1] = acc1;
    }
    __syncthreads();
    if (part == 0 && lane == 0) {
      for (int j = 1; j < kWarpsPerRow; ++j) {
        acc0 += partial[2 * (warp + j)];
        acc1 += partial[2 * (warp + j) + 1];
      }
    }
  }
  if (!valid || part != 0 || lane != 0) return;
  float* y = a.y[m];
  if constexpr (kMode == MatvecMode::Store) {
    y[row] = acc0;
  } else if constexpr (kMode == MatvecMode::Add) {
    y[row] += acc0;
  } else {
    y[row] = silu(acc0) * acc1;
  }
}

template <typename E, MatvecMode kMode, int kWarpsPerRow>
void launch(const MatvecArgs& a, bool vec, int64_t total_rows, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kWarps / kWarpsPerRow;
  const size_t smem = smem_bytes(a.K);
  auto kernel = matvec_kernel<E, kMode, kWarpsPerRow>;
  if (smem > 48 * 1024) {
    HH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  }
  const auto blocks = static_cast<unsigned>(ceil_div(total_rows, kRowsPerBlock));
  kernel<<<blocks, kThreads, smem, stream>>>(a, vec);
}

template <typename E, MatvecMode kMode>
void launch_mode(const MatvecArgs& a, bool vec, int64_t total_rows, cudaStream_t stream) {
  // Enough warps in flight to keep the memory system busy: matrices of few rows split each row's
  // width over 2 or 4 warps.
  if (total_rows >= 4096) {
    launch<E, kMode, 1>(a, vec, total_rows, stream);
  } else if (total_rows >= 2048) {
    launch<E, kMode, 2>(a, vec, total_rows, stream);
  } else {
    launch<E, kMode, 4>(a, vec, total_rows, stream);
  }
}

}  // namespace

void check_matvec_width(int64_t K) {
  int device = 0, limit = 0;
  HH_CUDA_CHECK(cudaGetDevice(&device));
  HH_CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (smem_bytes(K) > static_cast<size_t>(limit)) {
    throw_usage("matrix width " + std::to_string(K) +
                " is too large for the CUDA matrix-vector kernel (" + std::to_string(limit) +
                " bytes of shared memory per block on this GPU)");
  }
}

void matvec(ElemType type, const MatvecArgs& a, cudaStream_t stream) {
  const int n = a.mode == MatvecMode::SwiGlu ? 1 : a.n_mats;
  int64_t total_rows = 0;
  for (int i = 0; i < n; ++i) total_rows += a.rows[i];
  if (total_rows == 0) return;
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    bool vec = a.K % kPack<E> == 0;
    for (int i = 0; i < (a.mode == MatvecMode::SwiGlu ? 2 : a.n_mats); ++i) {
      vec = vec && reinterpret_cast<uintptr_t>(a.w[i]) % 16 == 0;
    }
    switch (a.mode) {
      case MatvecMode::Store:
        launch_mode<E, MatvecMode::Store>(a, vec, total_rows, stream);
        break;
      case MatvecMode::Add:
        launch_mode<E, MatvecMode::Add>(a, vec, total_rows, stream);
        break;
      case MatvecMode::SwiGlu:
        launch_mode<E, MatvecMode::SwiGlu>(a, vec, total_rows, stream);
        break;
    }
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
