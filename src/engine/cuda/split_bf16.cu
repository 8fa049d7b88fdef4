// f32 matrix products on bf16 tensor cores at f32 accuracy: a value splits into its nearest bf16
// value (hi) and the nearest bf16 value of the remainder (lo), together 16 bits of mantissa
// (|x - hi - lo| <= 2^-16 |x|), and the product of two split operands is the sum of three bf16
// products with f32 accumulation, hi·hi + hi·lo + lo·hi (lo·lo, at most 2^-16 of the whole, is
// left out), computed as one product over rows three times as long: lo | hi | hi times
// hi | lo | hi. bf16 keeps f32's exponent range, so no value overflows that f32 holds. This
// kernel writes the split rows; CudaBackend::gemm_split and attention_by_split_products run the
// products.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

namespace {

constexpr int kThreads = 256;

// Grid (blocks per row, rows, groups), each extent at most 65535: blocks stride over the rows
// and groups beyond it.
__global__ void split_bf16_kernel(SplitBf16 a) {
  for (int64_t group = blockIdx.z; group < a.groups; group += gridDim.z) {
    for (int64_t row = blockIdx.y; row < a.rows; row += gridDim.y) {
      const float* s = a.src + group * a.src_group_stride + row * a.src_row_stride;
      const int64_t d = group * a.dst_group_stride + row * a.dst_row_stride;
      auto* hi = static_cast<__nv_bfloat16*>(a.hi) + d;
      auto* lo = static_cast<__nv_bfloat16*>(a.lo) + d;
      auto* hi2 = a.hi2 != nullptr ? static_cast<__nv_bfloat16*>(a.hi2) + d : nullptr;
      for (int64_t k = blockIdx.x * int64_t{kThreads} + threadIdx.x; k < a.K;
           k += int64_t{gridDim.x} * kThreads) {
        const Bf16Halves h = split_value(s[k]);
        hi[k] = h.hi;
        lo[k] = h.lo;
        if (hi2 != nullptr) hi2[k] = h.hi;
      }
    }
  }
}

}  // namespace

void split_bf16(const SplitBf16& a, cudaStream_t stream) {
  if (a.groups == 0 || a.rows == 0 || a.K == 0) return;
  const auto blocks_per_row = static_cast<unsigned>(std::min<int64_t>(ceil_div(a.K, kThreads), 8));
  const dim3 grid(blocks_per_row, static_cast<unsigned>(std::min<int64_t>(a.rows, 65535)),
                  static_cast<unsigned>(std::min<int64_t>(a.groups, 65535)));
  split_bf16_kernel<<<grid, kThreads, 0, stream>>>(a);
  HH_CUDA_CHECK_LAUNCH();
}

void split_bf16_rows(const float* src, int64_t rows, int64_t K, void* dst, SplitLayout layout,
                     cudaStream_t stream) {
  auto* out = static_cast<__nv_bfloat16*>(dst);
  SplitBf16 a;
  a.src = src;
  a.rows = rows;
  a.K = K;
  a.src_row_stride = K;
  const bool lo_first = layout == SplitLayout::LoHiHi;
  a.lo = lo_first ? out : out + K;
  a.hi = lo_first ? out + K : out;
  a.hi2 = out + 2 * K;
  a.dst_row_stride = kSplitParts * K;
  split_bf16(a, stream);
}

}  // namespace hh::cuda
