// Embedding gather: the token's row of the table, widened to f32.
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

namespace {

// Grid (T); block threads stride over the row.
template <typename E>
__global__ void embed_kernel(const E* __restrict__ table, const int64_t* __restrict__ tokens,
                             int64_t d, float* __restrict__ out) {
  const int64_t t = blockIdx.x;
  gather_row(table, tokens[t], d, out + t * d);
}

}  // namespace

void embed(ElemType type, const void* table, const int64_t* tokens, int64_t T, int64_t d,
           float* out, cudaStream_t stream) {
  if (T == 0) return;
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    embed_kernel<E><<<static_cast<unsigned>(T), 256, 0, stream>>>(static_cast<const E*>(table),
                                                                  tokens, d, out);
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
