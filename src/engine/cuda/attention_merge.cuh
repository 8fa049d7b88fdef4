#pragma once
// The merge of split attention: a long cache is split over several blocks per head group, each
// writing a partial result, and the last block to finish combines them (no second launch).
#include "engine/cuda/device_types.cuh"

namespace hh::cuda {

// Once a split block has written its partial result (nq rows of dh + 2 floats per split: the
// unnormalised output, then the running max m and sum l), the last block of the group to arrive
// merges all of them into out_at(qi, d) (skipped where it gives null): its fence orders the other
// blocks' partials before its reads, and the counter goes back to zero for the next launch (or
// graph replay). Every load of a pass is independent of the others: the splits' (m, l) pairs into
// w_s (2 nq splits floats of shared memory), one weight per (query, split) from them, then each
// output element as a weighted sum.
template <typename OutAt>
__device__ void merge_splits(const float* all, int nq, int dh, int splits, unsigned* counter,
                             int* last_s, float* w_s, OutAt out_at) {
  const int stride = dh + 2;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) *last_s = atomicAdd(counter, 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!*last_s) return;
  __threadfence();
  float* l_s = w_s + nq * splits;
  for (int i = threadIdx.x; i < nq * splits; i += blockDim.x) {
    const int qi = i / splits, s = i % splits;
    w_s[i] = __ldcg(all + (s * nq + qi) * stride + dh);
    l_s[i] = __ldcg(all + (s * nq + qi) * stride + dh + 1);
  }
  __syncthreads();
  for (int qi = threadIdx.x; qi < nq; qi += blockDim.x) {
    float* w = w_s + qi * splits;
    const float* l = l_s + qi * splits;
    float mx = -INFINITY;
    for (int s = 0; s < splits; ++s) mx = fmaxf(mx, w[s]);
    float den = 0.0f;
    for (int s = 0; s < splits; ++s) {
      w[s] = w[s] == -INFINITY ? 0.0f : expf(w[s] - mx);  // -inf: a split past the last key
      den = fmaf(l[s], w[s], den);
    }
    for (int s = 0; s < splits; ++s) w[s] /= den;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < nq * dh; i += blockDim.x) {
    const int qi = i / dh, d = i % dh;
    float* out = out_at(qi, d);
    if (out == nullptr) continue;
    const float* w = w_s + qi * splits;
    float num = 0.0f;
#pragma unroll 8
    for (int s = 0; s < splits; ++s)
      num = fmaf(__ldcg(all + (s * nq + qi) * stride + d), w[s], num);
    *out = num;
  }
  if (threadIdx.x == 0) *counter = 0;
}

}  // namespace hh::cuda
