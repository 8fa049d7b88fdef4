// Element-wise ops of prefill: f32 activations rounded to E as tensor-core inputs, and SwiGLU.
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

namespace {

constexpr int kThreads = 256;

template <typename Out>
__global__ void convert_kernel(const float* __restrict__ x, int64_t n, Out* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * kThreads) {
    out[i] = from_float<Out>(x[i]);
  }
}

template <typename Out>
__global__ void swiglu_kernel(const float* __restrict__ gate, const float* __restrict__ up,
                              int64_t f, int64_t stride, void* __restrict__ out) {
  const int64_t row = blockIdx.y;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < f;
       i += int64_t{gridDim.x} * kThreads) {
    const float g = gate[row * stride + i];
    store_row_value<Out>(out, row, f, i, g / (1.0f + expf(-g)) * up[row * stride + i]);
  }
}

unsigned grid_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>(ceil_div(n, kThreads), 65535));
}

}  // namespace

void convert_f32(const float* x, int64_t n, ElemType out_type, void* out, cudaStream_t stream) {
  if (n == 0) return;
  visit_dtype(out_type, [&](auto tag) {
    using Out = decltype(tag);
    convert_kernel<Out><<<grid_for(n), kThreads, 0, stream>>>(x, n, static_cast<Out*>(out));
  });
  HH_CUDA_CHECK_LAUNCH();
}

namespace {

template <typename Out>
void launch_swiglu(const float* gate, const float* up, int64_t rows, int64_t f, int64_t stride,
                   void* out, cudaStream_t stream) {
  if (rows == 0 || f == 0) return;
  const auto blocks_per_row = static_cast<unsigned>(std::min<int64_t>(ceil_div(f, kThreads), 16));
  // Row offsets of the output in elements of its rows (3f bf16 for split halves).
  const int64_t out_row = std::is_same_v<Out, SplitBf16Rows> ? kSplitParts * f : f;
  using Elem = std::conditional_t<std::is_same_v<Out, SplitBf16Rows>, __nv_bfloat16, Out>;
  constexpr int64_t kMaxRows = 65535;  // a grid's y extent
  for (int64_t r0 = 0; r0 < rows; r0 += kMaxRows) {
    const auto n = static_cast<unsigned>(std::min(kMaxRows, rows - r0));
    swiglu_kernel<Out><<<dim3(blocks_per_row, n), kThreads, 0, stream>>>(
        gate + r0 * stride, up + r0 * stride, f, stride, static_cast<Elem*>(out) + r0 * out_row);
    HH_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void swiglu(const float* gate, const float* up, int64_t rows, int64_t f, int64_t stride,
            ElemType out_type, void* out, cudaStream_t stream) {
  visit_dtype(out_type, [&](auto tag) {
    launch_swiglu<decltype(tag)>(gate, up, rows, f, stride, out, stream);
  });
}

void swiglu(const float* gate, const float* up, int64_t rows, int64_t f, int64_t stride,
            SplitBf16Rows, void* out, cudaStream_t stream) {
  launch_swiglu<SplitBf16Rows>(gate, up, rows, f, stride, out, stream);
}

}  // namespace hh::cuda
