// Decode matrix-vector products: y = W·x for one token over weights as stored (f32, f16 or
// bf16), memory-bound, so every weight byte is read once with 16-byte streaming loads, several
// in flight per thread, the first ones issued before anything else the block does. One warp (or
// 2 or 4 warps splitting the width, for matrices of few rows) computes one row; x is staged in
// shared memory once per (persistent) block, times the norm weight (staged before the dependency
// wait) when the product has its norm fused in. Residual adds are atomics (launch.cuh and
// cuda_forward.cpp's decode step say how the kernels of a step overlap).
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/trace.cuh"

namespace hh::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
// 16-byte loads in flight per row and thread: SwiGLU reads two rows at once, so half as many
// each (the same bytes in flight, and registers for four blocks per multiprocessor).
template <bool kTwo>
inline constexpr int kUnrollOf = kTwo ? 2 : 4;

// Dynamic shared memory: x (K f32), the block-sum scratch (32), per-warp partial sums (kWarps
// times 2 for SwiGLU's two rows).
size_t smem_bytes(int64_t K) { return (static_cast<size_t>(K) + 32 + 2 * kWarps) * sizeof(float); }

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

// A warp's view of one row: which matrix, which row of it, and the first kUnroll 16-byte packs
// of its share, loaded ahead so that they are in flight while other work happens.
template <typename E, bool kTwo>
struct RowFetch {
  const E* w0 = nullptr;
  const E* w1 = nullptr;
  float* y = nullptr;
  int64_t row = 0;
  bool valid = false;
  uint4 u0[kUnrollOf<kTwo>];
  uint4 u1[kUnrollOf<kTwo>];
};

// Resolves global row `g` (over all matrices, one after another) and issues its first loads.
template <typename E, bool kTwo, int kWarpsPerRow>
__device__ __forceinline__ void fetch_row(const MatvecArgs& a, int64_t g, int64_t total_rows,
                                          bool vec, int part, int lane, RowFetch<E, kTwo>& f) {
  constexpr int kUnroll = kUnrollOf<kTwo>;
  f.valid = g < total_rows;
  if (!f.valid) return;
  // Constant indices only: a run-time index into the parameter arrays would copy them to local
  // memory.
  const void* w = a.w[0];
  f.y = a.y[0];
  if constexpr (!kTwo) {
    if (a.n_mats > 1 && g >= a.rows[0]) {
      g -= a.rows[0];
      w = a.w[1];
      f.y = a.y[1];
      if (a.n_mats > 2 && g >= a.rows[1]) {
        g -= a.rows[1];
        w = a.w[2];
        f.y = a.y[2];
      }
    }
  }
  f.row = g;
  f.w0 = static_cast<const E*>(w) + g * a.K;
  if constexpr (kTwo) f.w1 = static_cast<const E*>(a.w[1]) + g * a.K;
  if (!vec) return;
  constexpr int kStride = 32 * kWarpsPerRow;
  const int64_t P = a.K / kPack<E>;
  const int64_t p0 = part * 32 + lane;
#pragma unroll
  for (int j = 0; j < kUnroll; ++j) {
    const int64_t p = p0 + j * kStride;
    if (p < P) {
      f.u0[j] = load_stream(reinterpret_cast<const uint4*>(f.w0) + p);
      if constexpr (kTwo) f.u1[j] = load_stream(reinterpret_cast<const uint4*>(f.w1) + p);
    }
  }
}

template <typename E>
__device__ __forceinline__ void dot_pack(const uint4& u, const float* xp, float& acc) {
  constexpr int kN = kPack<E>;
  float f[kN];
  unpack<E>(u, f);
#pragma unroll
  for (int e = 0; e < kN; ++e) acc = fmaf(f[e], xp[e], acc);
}

// The warp's share of the dot products of a fetched row with xs: the prefetched packs, then the
// rest of the row kUnroll loads at a time.
template <typename E, bool kTwo, int kWarpsPerRow>
__device__ __forceinline__ void row_dot(const RowFetch<E, kTwo>& f, int64_t K, bool vec,
                                        const float* xs, int part, int lane, float& acc0,
                                        float& acc1) {
  constexpr int kStride = 32 * kWarpsPerRow;
  constexpr int kUnroll = kUnrollOf<kTwo>;
  if (!vec) {
    // Widths that are no multiple of a 16-byte pack (small test models): element loads.
    for (int64_t k = part * 32 + lane; k < K; k += kStride) {
      acc0 = fmaf(to_float(f.w0[k]), xs[k], acc0);
      if constexpr (kTwo) acc1 = fmaf(to_float(f.w1[k]), xs[k], acc1);
    }
    return;
  }
  constexpr int kN = kPack<E>;
  const int64_t P = K / kN;
  const uint4* r0 = reinterpret_cast<const uint4*>(f.w0);
  const uint4* r1 = reinterpret_cast<const uint4*>(f.w1);
  int64_t p = part * 32 + lane;
#pragma unroll
  for (int j = 0; j < kUnroll; ++j) {
    if (p + j * kStride < P) {
      dot_pack<E>(f.u0[j], xs + (p + j * kStride) * kN, acc0);
      if constexpr (kTwo) dot_pack<E>(f.u1[j], xs + (p + j * kStride) * kN, acc1);
    }
  }
  p += kUnroll * kStride;
  // Every load of an unrolled group is issued before the first use.
  for (; p + (kUnroll - 1) * kStride < P; p += kUnroll * kStride) {
    uint4 u0[kUnroll], u1[kUnroll];
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      u0[j] = load_stream(r0 + p + j * kStride);
      if constexpr (kTwo) u1[j] = load_stream(r1 + p + j * kStride);
    }
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      dot_pack<E>(u0[j], xs + (p + j * kStride) * kN, acc0);
      if constexpr (kTwo) dot_pack<E>(u1[j], xs + (p + j * kStride) * kN, acc1);
    }
  }
  for (; p < P; p += kStride) {
    dot_pack<E>(load_stream(r0 + p), xs + p * kN, acc0);
    if constexpr (kTwo) dot_pack<E>(load_stream(r1 + p), xs + p * kN, acc1);
  }
}

// The norm weight (a constant of the step) into xs before the dependency wait, so that the
// staging after it has only x to wait for: the weight is rarely still in L2 a step later, and
// a DRAM round trip after the wait is on every step's critical path. Each thread writes the
// elements it later scales (stage_x walks xs the same way), so no barrier is needed between.
__device__ __forceinline__ void stage_norm_weight(const MatvecArgs& a, bool vec_x, float* xs) {
  if (a.norm_weight == nullptr) return;
  const int64_t K = a.K;
  if (vec_x) {
    const float4* w4 = reinterpret_cast<const float4*>(a.norm_weight);
    float4* xs4 = reinterpret_cast<float4*>(xs);
    for (int64_t i = threadIdx.x; i < K / 4; i += kThreads) xs4[i] = w4[i];
    return;
  }
  for (int64_t i = threadIdx.x; i < K; i += kThreads) xs[i] = a.norm_weight[i];
}

// Stages x in shared memory with 16-byte loads, all of a thread's share requested before the
// first store, times the norm weight stage_norm_weight left there when a norm is fused; returns
// the thread's part of the sum of squares of x (the norm's scale is applied to the finished dot
// products instead of x, so staging is one pass).
__device__ __forceinline__ float stage_x(const MatvecArgs& a, bool vec_x, float* xs) {
  const int64_t K = a.K;
  const bool norm = a.norm_weight != nullptr;
  float ss = 0.0f;
  if (vec_x) {
    const float4* x4 = reinterpret_cast<const float4*>(a.x);
    float4* xs4 = reinterpret_cast<float4*>(xs);
#pragma unroll 2
    for (int64_t i = threadIdx.x; i < K / 4; i += kThreads) {
      float4 v = x4[i];
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
      if (norm) {
        const float4 w = xs4[i];
        v = make_float4(v.x * w.x, v.y * w.y, v.z * w.z, v.w * w.w);
      }
      xs4[i] = v;
    }
    return ss;
  }
  for (int64_t i = threadIdx.x; i < K; i += kThreads) {
    const float v = a.x[i];
    ss += v * v;
    xs[i] = norm ? v * xs[i] : v;
  }
  return ss;
}

// A persistent grid: each block stages x once (times the norm weight when a norm is fused), then
// walks row groups of kWarps / kWarpsPerRow rows, a grid's worth apart. The first row's weights
// are requested before x is staged and each next row's before the current one is reduced, so
// the memory system never waits for the block's arithmetic.
template <typename E, MatvecMode kMode, int kWarpsPerRow>
// Registers for four blocks (half the threads) per multiprocessor; three in f32, which would
// spill at that.
__global__ void __launch_bounds__(kThreads, sizeof(E) == 4 ? 3 : 4)
    matvec_kernel(MatvecArgs a, bool vec, bool vec_x, int64_t total_rows) {
  extern __shared__ float smem[];
  __shared__ TraceMarks marks;
  trace_mark(a.trace, marks.start);
  float* xs = smem;               // (K) the input, normalised when a norm is fused
  float* scratch = xs + a.K;      // (32)
  float* partial = scratch + 32;  // (2 * kWarps)
  constexpr int kRowsPerBlock = kWarps / kWarpsPerRow;
  constexpr bool kTwo = kMode == MatvecMode::SwiGlu;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int part = warp % kWarpsPerRow;
  const int64_t K = a.K;
  const int64_t step = int64_t{kRowsPerBlock} * gridDim.x;
  int64_t base = int64_t{blockIdx.x} * kRowsPerBlock;

  if (!a.trigger_after_wait) pdl_launch_dependents();
  RowFetch<E, kTwo> f;
  fetch_row<E, kTwo, kWarpsPerRow>(a, base + warp / kWarpsPerRow, total_rows, vec, part, lane, f);
  stage_norm_weight(a, vec_x, xs);
  pdl_wait();  // x (and y, when added to) come from the kernels before
  if (a.trigger_after_wait) pdl_launch_dependents();
  trace_mark(a.trace, marks.waited);

  float scale = 1.0f;
  const float ss = stage_x(a, vec_x, xs);
  if (a.norm_weight != nullptr) {
    // block_sum's barriers also publish xs.
    scale = 1.0f / sqrtf(block_sum(ss, scratch) / static_cast<float>(K) + a.eps);
  } else {
    __syncthreads();
  }

  for (; base < total_rows; base += step) {  // block-uniform: barriers below are safe
    float acc0 = 0.0f, acc1 = 0.0f;
    if (f.valid) row_dot<E, kTwo, kWarpsPerRow>(f, K, vec, xs, part, lane, acc0, acc1);
    const bool valid = f.valid;
    const int64_t row = f.row;
    float* y = f.y;
    fetch_row<E, kTwo, kWarpsPerRow>(a, base + step + warp / kWarpsPerRow, total_rows, vec, part,
                                     lane, f);
    acc0 = warp_sum(acc0) * scale;
    if constexpr (kTwo) acc1 = warp_sum(acc1) * scale;
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
      __syncthreads();  // partial is rewritten by the next row group
    }
    if (valid && part == 0 && lane == 0) {
      if constexpr (kMode == MatvecMode::Store) {
        y[row] = acc0;
      } else if constexpr (kMode == MatvecMode::Add) {
        // One thread adds to each row, so this is the same single rounding as y[row] += acc0
        // (subnormal sums aside, which the atomic flushes to zero), but sent off without
        // reading y first: the block leaves an L2 round trip sooner (measured +3 % decode).
        atomicAdd(y + row, acc0);
      } else {
        y[row] = silu(acc0) * acc1;
      }
    }
  }
  trace_record(a.trace, marks);
}

template <typename E, MatvecMode kMode, int kWarpsPerRow>
void launch(const MatvecArgs& a, bool vec, bool vec_x, int64_t total_rows, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kWarps / kWarpsPerRow;
  const size_t smem = smem_bytes(a.K);
  auto kernel = matvec_kernel<E, kMode, kWarpsPerRow>;
  if (smem > 48 * 1024) {
    HH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  }
  // As many blocks as fit on the GPU at once (measured on an H100: 4 blocks per multiprocessor
  // beat 2, which would leave room for the next kernel's blocks beside them), no more than there
  // are row groups.
  int device = 0, sms = 0, per_sm = 0;
  HH_CUDA_CHECK(cudaGetDevice(&device));
  HH_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  HH_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem));
  per_sm = std::max(per_sm, 1);
  const int64_t groups = ceil_div(total_rows, kRowsPerBlock);
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(groups, int64_t{sms} * per_sm));
  launch_maybe_chained(!a.ordinary_launch, kernel, dim3(blocks), dim3(kThreads), smem, stream, a,
                       vec, vec_x, total_rows);
}

template <typename E, MatvecMode kMode>
void launch_mode(const MatvecArgs& a, bool vec, bool vec_x, int64_t total_rows,
                 cudaStream_t stream) {
  // Enough warps in flight to keep the memory system busy: matrices of few rows split each row's
  // width over 2 or 4 warps. But no more blocks than hold the whole matrix in flight: where two
  // warps a row take every 16-byte pack of it into their first loads, a matrix of 1024 rows or
  // more takes half the blocks of four warps a row, and the registers left free let the next
  // kernel's blocks start and request their weights while this one waits (measured on an H100
  // for Qwen3-0.6B's attention output, 1024 x 2048: the FFN's gate/up blocks start ~5 us
  // earlier, +2.5 % decode).
  const bool two_hold_a_row =
      vec && a.K / kPack<E> <= int64_t{2 * 32 * kUnrollOf<kMode == MatvecMode::SwiGlu>};
  if (total_rows >= 4096) {
    launch<E, kMode, 1>(a, vec, vec_x, total_rows, stream);
  } else if (total_rows >= 2048 || (total_rows >= 1024 && two_hold_a_row)) {
    launch<E, kMode, 2>(a, vec, vec_x, total_rows, stream);
  } else {
    launch<E, kMode, 4>(a, vec, vec_x, total_rows, stream);
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
    const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
    const bool vec_x = a.K % 4 == 0 && aligned(a.x) && aligned(a.norm_weight);
    switch (a.mode) {
      case MatvecMode::Store:
        launch_mode<E, MatvecMode::Store>(a, vec, vec_x, total_rows, stream);
        break;
      case MatvecMode::Add:
        launch_mode<E, MatvecMode::Add>(a, vec, vec_x, total_rows, stream);
        break;
      case MatvecMode::SwiGlu:
        launch_mode<E, MatvecMode::SwiGlu>(a, vec, vec_x, total_rows, stream);
        break;
    }
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
