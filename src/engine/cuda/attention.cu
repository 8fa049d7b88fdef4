// Causal grouped-query attention over the KV cache, flash style: keys and values are visited in
// tiles of kTile positions with an online softmax (running max and sum per query), so no score
// matrix is ever stored. One block serves one kv head and a few query tokens, all query heads
// of the group together, so each key and value row is read once for all of them. Short prompts
// split the cache over several blocks per head (attention_merge.cuh). Decode has its own kernel,
// fused with the norms and RoPE (attention_decode.cu).
#include <algorithm>
#include <cmath>

#include "engine/cuda/attention_merge.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"

namespace hh::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kTile = kThreads;  // keys per tile: one per thread when scoring
constexpr int kMaxQ = 16;        // queries (token, head) per block
constexpr int kMaxHeadDim = 256;
constexpr int kDimsPerThread = kMaxHeadDim / kThreads;

int queries_tokens(int64_t T, int64_t group) {
  return static_cast<int>(std::min<int64_t>(T, std::max<int64_t>(1, kMaxQ / group)));
}

// Grid (kvh, query-token blocks, splits). Query qi of the block is token qb * QT + qi / group,
// head g * group + qi % group.
template <typename E>
__global__ void __launch_bounds__(kThreads) attention_kernel(AttentionArgs a, int QT) {
  extern __shared__ float smem[];
  const int group = static_cast<int>(a.h / a.kvh);
  const int nq = QT * group;
  const int64_t dh = a.dh;
  float* q_s = smem;                 // (nq, dh) queries times 1/sqrt(dh)
  float* s_s = q_s + nq * dh;        // (nq, kTile) scores, then probabilities
  float* corr_s = s_s + nq * kTile;  // (nq) rescale factor of the running sums
  float* m_s = corr_s + kMaxQ;       // (nq) running max
  float* l_s = m_s + kMaxQ;          // (nq) running sum
  __shared__ int last_s;

  const int64_t g = blockIdx.x, qb = blockIdx.y, split = blockIdx.z;
  const int tid = threadIdx.x;
  const int64_t pos0 = a.pos_dev != nullptr ? *a.pos_dev : a.pos;
  const int64_t t0 = qb * QT;
  const int64_t t_end = std::min<int64_t>(a.T, t0 + QT);
  const float scale = 1.0f / sqrtf(static_cast<float>(dh));

  for (int64_t i = tid; i < nq * dh; i += kThreads) {
    const int qi = static_cast<int>(i / dh);
    const int64_t t = t0 + qi / group;
    const int64_t head = g * group + qi % group;
    q_s[i] = t < t_end ? a.q[(t * a.h + head) * dh + i % dh] * scale : 0.0f;
  }
  if (tid < kMaxQ) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }

  // This split's share of positions [0, last query's position].
  const int64_t n_keys = pos0 + t_end;
  const int64_t chunk = ceil_div(ceil_div(n_keys, a.splits), 32) * 32;
  const int64_t k_begin = std::min(n_keys, split * chunk);
  const int64_t k_end = std::min(n_keys, k_begin + chunk);

  const E* kc = static_cast<const E*>(a.k_cache) + g * a.cs * dh;
  const E* vc = static_cast<const E*>(a.v_cache) + g * a.cs * dh;
  float o[kMaxQ][kDimsPerThread];
#pragma unroll
  for (int qi = 0; qi < kMaxQ; ++qi) {
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) o[qi][j] = 0.0f;
  }
  __syncthreads();

  for (int64_t tile = k_begin; tile < k_end; tile += kTile) {
    // Scores: thread j scores key tile + j against every query.
    {
      const int64_t key = tile + tid;
      float acc[kMaxQ];
#pragma unroll
      for (int qi = 0; qi < kMaxQ; ++qi) acc[qi] = 0.0f;
      if (key < k_end) {
        constexpr int kN = kPack<E>;
        const uint4* row = reinterpret_cast<const uint4*>(kc + key * dh);
#pragma unroll 4
        for (int64_t p = 0; p < dh / kN; ++p) {
          float f[kN];
          unpack<E>(row[p], f);
#pragma unroll
          for (int qi = 0; qi < kMaxQ; ++qi) {
            if (qi < nq) {
              const float* qv = q_s + qi * dh + p * kN;
#pragma unroll
              for (int e = 0; e < kN; ++e) acc[qi] = fmaf(f[e], qv[e], acc[qi]);
            }
          }
        }
      }
#pragma unroll
      for (int qi = 0; qi < kMaxQ; ++qi) {
        if (qi < nq) {
          const int64_t qpos = pos0 + t0 + qi / group;  // causal: keys up to the query's position
          s_s[qi * kTile + tid] = key < k_end && key <= qpos ? acc[qi] : -INFINITY;
        }
      }
    }
    __syncthreads();
    // Online softmax: one warp per query.
    for (int qi = tid >> 5; qi < nq; qi += kThreads / 32) {
      const int lane = tid & 31;
      float* s = s_s + qi * kTile;
      float mx = -INFINITY;
      for (int j = lane; j < kTile; j += 32) mx = fmaxf(mx, s[j]);
      mx = warp_max(mx);
      const float m_old = m_s[qi], m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
      for (int j = lane; j < kTile; j += 32) {
        const float p = m_new == -INFINITY ? 0.0f : expf(s[j] - m_new);
        s[j] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float c = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
        corr_s[qi] = c;
        m_s[qi] = m_new;
        l_s[qi] = l_s[qi] * c + sum;
      }
    }
    __syncthreads();
    // Values: thread owns dims tid, tid + kThreads; o = o * c + sum_j p_j V[j].
    const int64_t n_in_tile = std::min<int64_t>(kTile, k_end - tile);
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) {
      const int64_t d = tid + j * kThreads;
      if (d >= dh) continue;
#pragma unroll
      for (int qi = 0; qi < kMaxQ; ++qi) {
        if (qi < nq) o[qi][j] *= corr_s[qi];
      }
#pragma unroll 4
      for (int64_t key = 0; key < n_in_tile; ++key) {
        const float vv = to_float(vc[(tile + key) * dh + d]);
#pragma unroll
        for (int qi = 0; qi < kMaxQ; ++qi) {
          if (qi < nq) o[qi][j] = fmaf(s_s[qi * kTile + key], vv, o[qi][j]);
        }
      }
    }
    __syncthreads();
  }

  if (a.splits == 1) {
#pragma unroll
    for (int qi = 0; qi < kMaxQ; ++qi) {
      if (qi >= nq || t0 + qi / group >= t_end) continue;
      const float inv = 1.0f / l_s[qi];
      float* out = a.out + ((t0 + qi / group) * a.h + g * group + qi % group) * dh;
#pragma unroll
      for (int j = 0; j < kDimsPerThread; ++j) {
        const int64_t d = tid + j * kThreads;
        if (d < dh) out[d] = o[qi][j] * inv;
      }
    }
    return;
  }

  // Partial result of this split: (nq, dh + 2) floats: o, then m and l.
  const int64_t stride = dh + 2;
  const int64_t slot = (g * gridDim.y + qb) * a.splits;
  float* part = a.partial + (slot + split) * nq * stride;
#pragma unroll
  for (int qi = 0; qi < kMaxQ; ++qi) {
    if (qi >= nq) continue;
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) {
      const int64_t d = tid + j * kThreads;
      if (d < dh) part[qi * stride + d] = o[qi][j];
    }
    if (tid == 0) {
      part[qi * stride + dh] = m_s[qi];
      part[qi * stride + dh + 1] = l_s[qi];
    }
  }
  merge_splits(a.partial + slot * nq * stride, nq, static_cast<int>(dh), a.splits,
               a.counter + g * gridDim.y + qb, &last_s, s_s, [&](int qi, int d) -> float* {
                 const int64_t t = t0 + qi / group;
                 return t < t_end ? a.out + (t * a.h + g * group + qi % group) * dh + d : nullptr;
               });
}

// Grid (h T): row r = head T + t of scores (h, T, n); query t (at position p0 + t) sees keys
// [0, p0 + t]. The row stays in registers, each exponential taken once.
constexpr int kSoftmaxThreads = 128;
constexpr int kSoftmaxPerThread = static_cast<int>(kCausalSoftmaxMaxKeys) / kSoftmaxThreads;
template <typename E>
__global__ void __launch_bounds__(kSoftmaxThreads)
    causal_softmax_kernel(const float* __restrict__ scores, int64_t T, int64_t n, int64_t p0,
                          void* __restrict__ probs) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  const int64_t visible = p0 + r % T + 1;
  const float* row = scores + r * n;
  float e[kSoftmaxPerThread];
  float mx = -INFINITY;
#pragma unroll
  for (int j = 0; j < kSoftmaxPerThread; ++j) {
    const int64_t i = threadIdx.x + j * kSoftmaxThreads;
    e[j] = i < visible ? row[i] : -INFINITY;
    mx = fmaxf(mx, e[j]);
  }
  mx = block_max(mx, scratch);
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kSoftmaxPerThread; ++j) {
    e[j] = expf(e[j] - mx);  // 0 where masked
    sum += e[j];
  }
  const float inv = 1.0f / block_sum(sum, scratch);
#pragma unroll
  for (int j = 0; j < kSoftmaxPerThread; ++j) {
    const int64_t i = threadIdx.x + j * kSoftmaxThreads;
    if (i < n) store_row_value<E>(probs, r, n, i, e[j] * inv);
  }
}

}  // namespace

namespace {

template <typename Out>
void launch_causal_softmax(const float* scores, int64_t h, int64_t T, int64_t n, int64_t p0,
                           void* probs, cudaStream_t stream) {
  if (h * T == 0) return;
  if (n > kCausalSoftmaxMaxKeys) {
    throw_usage("causal_softmax takes rows of up to " + std::to_string(kCausalSoftmaxMaxKeys) +
                " keys, not " + std::to_string(n));
  }
  causal_softmax_kernel<Out>
      <<<static_cast<unsigned>(h * T), kSoftmaxThreads, 0, stream>>>(scores, T, n, p0, probs);
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace

void causal_softmax(ElemType type, const float* scores, int64_t h, int64_t T, int64_t n, int64_t p0,
                    void* probs, cudaStream_t stream) {
  visit_dtype(type, [&](auto tag) {
    launch_causal_softmax<decltype(tag)>(scores, h, T, n, p0, probs, stream);
  });
}

void causal_softmax(SplitBf16Rows, const float* scores, int64_t h, int64_t T, int64_t n, int64_t p0,
                    void* probs, cudaStream_t stream) {
  launch_causal_softmax<SplitBf16Rows>(scores, h, T, n, p0, probs, stream);
}

void check_attention_shape(int64_t h, int64_t kvh, int64_t dh) {
  if (kvh <= 0 || h % kvh != 0 || h / kvh > kMaxQ) {
    throw_usage("the CUDA attention kernel takes up to " + std::to_string(kMaxQ) +
                " query heads per kv head, not " + std::to_string(h) + "/" + std::to_string(kvh));
  }
  if (dh <= 0 || dh > kMaxHeadDim || dh % 8 != 0) {
    throw_usage("the CUDA attention kernel takes head widths that are multiples of 8 up to " +
                std::to_string(kMaxHeadDim) + ", not " + std::to_string(dh));
  }
}

int attention_splits(int64_t T, int64_t h, int64_t kvh, int64_t cs, int sm_count) {
  const int64_t group = h / kvh;
  const int64_t blocks = kvh * ceil_div(T, queries_tokens(T, group));
  if (blocks >= sm_count) return 1;
  // Two blocks per multiprocessor, but no split shorter than two tiles of a full cache.
  const int64_t want = ceil_div(2 * int64_t{sm_count}, blocks);
  return static_cast<int>(std::clamp<int64_t>(std::min(want, cs / (2 * kTile)), 1, 64));
}

size_t attention_scratch_floats(int64_t T, int64_t h, int64_t kvh, int64_t dh, int splits) {
  const int64_t group = h / kvh;
  const int QT = queries_tokens(T, group);
  return static_cast<size_t>(kvh * ceil_div(T, QT) * splits * QT * group * (dh + 2));
}

size_t attention_counters(int64_t T, int64_t h, int64_t kvh) {
  return static_cast<size_t>(kvh * ceil_div(T, queries_tokens(T, h / kvh)));
}

void attention(ElemType type, const AttentionArgs& a, cudaStream_t stream) {
  if (a.T == 0) return;
  const int64_t group = a.h / a.kvh;
  const int QT = queries_tokens(a.T, group);
  const int nq = static_cast<int>(QT * group);
  const size_t smem = (static_cast<size_t>(nq) * (a.dh + kTile) + 3 * kMaxQ) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(a.kvh), static_cast<unsigned>(ceil_div(a.T, QT)),
                  static_cast<unsigned>(a.splits));
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    attention_kernel<E><<<grid, kThreads, smem, stream>>>(a, QT);
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
