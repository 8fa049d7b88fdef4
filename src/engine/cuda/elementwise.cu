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

// Grid (blocks per row, rows up to 65535): blocks stride over the rows beyond it.
template <typename Out>
__global__ void swiglu_kernel(const float* __restrict__ gate, const float* __restrict__ up,
                              int64_t rows, int64_t f, int64_t stride, void* __restrict__ out) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < f;
         i += int64_t{gridDim.x} * kThreads) {
      const float g = gate[row * stride + i];
      store_row_value<Out>(out, row, f, i, g / (1.0f + expf(-g)) * up[row * stride + i]);
    }
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
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(ceil_div(f, kThreads), 16)),
                  static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  swiglu_kernel<Out><<<grid, kThreads, 0, stream>>>(gate, up, rows, f, stride, out);
  HH_CUDA_CHECK_LAUNCH();
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
