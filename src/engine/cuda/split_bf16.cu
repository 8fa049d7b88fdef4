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

__global__ void split_bf16_kernel(SplitBf16 a) {
  const int64_t group = blockIdx.z, row = blockIdx.y;
  const float* s = a.src + group * a.src_group_stride + row * a.src_row_stride;
  const int64_t d = group * a.dst_group_stride + row * a.dst_row_stride;
  auto* hi = static_cast<__nv_bfloat16*>(a.hi) + d;
  auto* lo = static_cast<__nv_bfloat16*>(a.lo) + d;
  auto* hi2 = a.hi2 != nullptr ? static_cast<__nv_bfloat16*>(a.hi2) + d : nullptr;
  for (int64_t k = blockIdx.x * int64_t{kThreads} + threadIdx.x; k < a.K;
       k += int64_t{gridDim.x} * kThreads) {
    split_value(s[k], hi[k], lo[k]);
    if (hi2 != nullptr) hi2[k] = hi[k];
  }
}

}  // namespace

void split_bf16(const SplitBf16& a, cudaStream_t stream) {
  if (a.groups == 0 || a.rows == 0 || a.K == 0) return;
  if (a.groups > 65535) throw_usage("split_bf16: more than 65535 groups");
  const auto blocks_per_row = static_cast<unsigned>(std::min<int64_t>(ceil_div(a.K, kThreads), 8));
  constexpr int64_t kMaxRows = 65535;  // a grid's y extent
  for (int64_t r0 = 0; r0 < a.rows; r0 += kMaxRows) {
    SplitBf16 part = a;
    part.rows = std::min(kMaxRows, a.rows - r0);
    part.src += r0 * a.src_row_stride;
    part.hi = static_cast<__nv_bfloat16*>(a.hi) + r0 * a.dst_row_stride;
    part.lo = static_cast<__nv_bfloat16*>(a.lo) + r0 * a.dst_row_stride;
    if (a.hi2 != nullptr) part.hi2 = static_cast<__nv_bfloat16*>(a.hi2) + r0 * a.dst_row_stride;
    const dim3 grid(blocks_per_row, static_cast<unsigned>(part.rows),
                    static_cast<unsigned>(a.groups));
    split_bf16_kernel<<<grid, kThreads, 0, stream>>>(part);
    HH_CUDA_CHECK_LAUNCH();
  }
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
