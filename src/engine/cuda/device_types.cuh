#pragma once
// Device-side helpers shared by the kernel families: the model dtypes as C++ types, conversion
// to and from f32, 16-byte packs, warp reductions, and the dispatch from an ElemType to a
// template instantiation.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/kernels.h"
#include "values/elem_type.h"

namespace hh::cuda {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

// Row `token` of an embedding table (v, d) E, widened to f32 into out (d), the block's threads
// striding over it.
template <typename E>
__device__ __forceinline__ void gather_row(const E* table, int64_t token, int64_t d, float* out) {
  const E* row = table + token * d;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) out[i] = to_float(row[i]);
}

template <typename E>
__device__ __forceinline__ E from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Elements of E in one 16-byte load.
template <typename E>
inline constexpr int kPack = 16 / sizeof(E);

// The kPack values of a 16-byte pack as f32.
template <typename E>
__device__ __forceinline__ void unpack(const uint4& u, float* out) {
  if constexpr (sizeof(E) == 4) {
    out[0] = __uint_as_float(u.x);
    out[1] = __uint_as_float(u.y);
    out[2] = __uint_as_float(u.z);
    out[3] = __uint_as_float(u.w);
  } else {
    const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (std::is_same_v<E, __nv_bfloat16>) {
        // bf16 widens by a shift: cheaper than the conversion intrinsics.
        out[2 * i] = __uint_as_float(words[i] << 16);
        out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
      } else {
        const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&words[i]));
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
      }
    }
  }
}

// Read-only 16-byte load that skips L1 allocation: weights are streamed once per token.
__device__ __forceinline__ uint4 load_stream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// cos and sin of RoPE's angle pos * inv_freq: the product in double as on the CPU (an f32 one
// is off in the fourth digit at positions in the tens of thousands), reduced in double to
// half-turns in [-1, 1], then sincospif in f32 (its range reduction is exact: no slow path, no
// stack frame).
__device__ __forceinline__ void rope_cos_sin(int64_t pos, double inv_freq, float* c, float* s) {
  const double t = static_cast<double>(pos) * inv_freq * 0.318309886183790671538;  // 1/pi
  const double r = t - 2.0 * rint(0.5 * t);
  sincospif(static_cast<float>(r), s, c);
}

// A warp's share of a head vector x of 2 half values as NeoX pairs: lane j loads (x[i],
// x[i + half]) for i = j + 32k into a[k], b[k] (zeros past half). Returns Qwen3's RMSNorm scale
// of the head, 1 / sqrt(mean(x^2) + eps), on every lane.
template <int kPairs>
__device__ __forceinline__ float load_head_pairs(const float* x, int half, int lane, float eps,
                                                 float (&a)[kPairs], float (&b)[kPairs]) {
  float ss = 0.0f;
#pragma unroll
  for (int k = 0; k < kPairs; ++k) {
    const int i = lane + 32 * k;
    a[k] = i < half ? x[i] : 0.0f;
    b[k] = i < half ? x[i + half] : 0.0f;
    ss += a[k] * a[k] + b[k] * b[k];
  }
  return 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(2 * half) + eps);
}

// A reduction over the block (blockDim.x a multiple of 32, at most 1024) with warp_reduce (a
// warp's reduction) and `identity`; every thread gets the result. `scratch` holds 32 floats;
// each call begins with a barrier, so calls may reuse it.
template <typename WarpReduce>
__device__ __forceinline__ float block_reduce(float x, float* scratch, float identity,
                                              WarpReduce warp_reduce) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  x = warp_reduce(x);
  __syncthreads();
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  x = lane < n_warps ? scratch[lane] : identity;
  return warp_reduce(x);
}

__device__ __forceinline__ float block_sum(float x, float* scratch) {
  return block_reduce(x, scratch, 0.0f, [](float v) { return warp_sum(v); });
}

__device__ __forceinline__ float block_max(float x, float* scratch) {
  return block_reduce(x, scratch, -INFINITY, [](float v) { return warp_max(v); });
}

// Calls f(E{}) for the CUDA type of a model dtype.
template <typename F>
void visit_dtype(ElemType type, F&& f) {
  switch (type) {
    case ElemType::F32:
      f(float{});
      return;
    case ElemType::F16:
      f(__half{});
      return;
    case ElemType::BF16:
      f(__nv_bfloat16{});
      return;
    default:
      throw_bad_dtype(type);
  }
}

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// v as its nearest bf16 value and the nearest bf16 value of the remainder (split_bf16.cu).
// v - hi is exact in f32 (the two are within one bf16 rounding); infinities (and values that
// round to one) and NaN travel in the high part alone.
struct Bf16Halves {
  __nv_bfloat16 hi, lo;
};
__device__ __forceinline__ Bf16Halves split_value(float v) {
  const __nv_bfloat16 hi = __float2bfloat16_rn(v);
  const float h = __bfloat162float(hi);
  return {hi, __float2bfloat16_rn(isfinite(h) ? v - h : 0.0f)};
}

// Element i of row `row` of a row kernel's output of rows of n values: of type Out, or with
// Out = SplitBf16Rows (kernels.h) bf16 halves, rows of 3n as hi | lo | hi.
template <typename Out>
__device__ __forceinline__ void store_row_value(void* out, int64_t row, int64_t n, int64_t i,
                                                float v) {
  if constexpr (std::is_same_v<Out, SplitBf16Rows>) {
    auto* o = static_cast<__nv_bfloat16*>(out) + row * kSplitParts * n;
    const Bf16Halves s = split_value(v);
    o[i] = s.hi;
    o[n + i] = s.lo;
    o[2 * n + i] = s.hi;
  } else {
    static_cast<Out*>(out)[row * n + i] = from_float<Out>(v);
  }
}

}  // namespace hh::cuda
