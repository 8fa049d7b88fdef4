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
                              int64_t n, Out* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * kThreads) {
    const float g = gate[i];
    out[i] = from_float<Out>(g / (1.0f + expf(-g)) * up[i]);
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

void swiglu(const float* gate, const float* up, int64_t n, ElemType out_type, void* out,
            cudaStream_t stream) {
  if (n == 0) return;
  visit_dtype(out_type, [&](auto tag) {
    using Out = decltype(tag);
    swiglu_kernel<Out><<<grid_for(n), kThreads, 0, stream>>>(gate, up, n, static_cast<Out*>(out));
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
