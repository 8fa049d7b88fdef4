// Causal grouped-query attention over the KV cache, flash style: keys and values are visited in
// tiles of kTile positions with an online softmax (running max and sum per query), so no score
// matrix is ever stored. One block serves one kv head and a few query tokens, all query heads
// of the group together, so each key and value row is read once for all of them. Decode (one
// token) splits the cache over several blocks per head; the last block to finish merges their
// partial results, so no second launch is needed.
#include <algorithm>
#include <cmath>

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
constexpr int64_t kMinSplitKeys = 256;  // decode: positions per split, at least

int queries_tokens(int64_t T, int64_t group) {
  return static_cast<int>(std::min<int64_t>(T, std::max<int64_t>(1, kMaxQ / group)));
}

// Once a split block has written its partial result (nq, dh + 2 floats per split: o, then m and
// l), the last block of the group to arrive merges all of them into out_at(qi, d) (skipped where
// it gives null): its fence orders the other blocks' partials before its reads, and the counter
// goes back to zero for the next launch (or graph replay). Every load of a pass is independent
// of the others: the splits' (m, l) pairs into w_s (2 nq splits floats of shared memory), one
// weight per (query, split) from them, then each output element as a weighted sum.
template <typename OutAt>
__device__ void merge_splits(const float* all, int nq, int64_t dh, int splits, unsigned* counter,
                             int* last_s, float* w_s, OutAt out_at) {
  const int64_t stride = dh + 2;
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
  for (int64_t i = threadIdx.x; i < nq * dh; i += blockDim.x) {
    const int qi = static_cast<int>(i / dh);
    const int64_t d = i % dh;
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
  merge_splits(a.partial + slot * nq * stride, nq, dh, a.splits, a.counter + g * gridDim.y + qb,
               &last_s, s_s, [&](int qi, int64_t d) -> float* {
                 const int64_t t = t0 + qi / group;
                 return t < t_end ? a.out + (t * a.h + g * group + qi % group) * dh + d : nullptr;
               });
}

// Decode (one token), fused with the query and key norms, RoPE and the cache update. Grid (kvh,
// splits): block (g, s) serves the query heads of kv head g over split s of the positions. Each
// block normalises and rotates the group's queries itself (a few hundred values: cheaper than a
// launch); the block whose split holds the new position also writes its key and value to the
// cache before reading it back. Scores: one key per thread, its row read with independent
// 16-byte loads; values: threads take (16-byte pack, key lane) pairs so that a warp reads whole
// rows, and a shared-memory reduction over the key lanes finishes each query.
template <typename E>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(DecodeAttentionArgs a) {
  extern __shared__ float smem[];
  __shared__ float m_s[kMaxQ], l_s[kMaxQ], corr_s[kMaxQ];
  __shared__ int last_s;
  constexpr int kN = kPack<E>;
  const QkvRope& r = a.rope;
  const int group = static_cast<int>(r.h / r.kvh);
  const int dh = static_cast<int>(r.dh), half = dh / 2;
  const int packs = dh / kN;           // 16-byte packs per cache row
  const int lanes = kThreads / packs;  // keys read at once in the value pass
  float* q_s = smem;                   // (group, dh) queries, normalised, rotated, times 1/sqrt(dh)
  float* s_s = q_s + group * dh;       // (group, kTile) scores, then probabilities
  float* o_s = s_s + group * kTile;    // (group, dh) running output
  float* red_s = o_s + group * dh;     // (lanes, dh) value-pass partial sums
  float* cos_s = red_s + lanes * dh;   // (half)
  float* sin_s = cos_s + half;         // (half)
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t g = blockIdx.x, split = blockIdx.y;
  const int64_t pos = r.pos_dev != nullptr ? *r.pos_dev : r.pos;
  // Short caches take fewer splits than the launch has (down to one, with no merge at all): no
  // split gets fewer than kMinSplitKeys positions, and blocks past the last one leave at once.
  const int64_t n_keys = pos + 1;
  const int64_t chunk =
      std::max<int64_t>(ceil_div(ceil_div(n_keys, a.splits), 32) * 32, int64_t{kMinSplitKeys});
  const int splits = static_cast<int>(ceil_div(n_keys, chunk));
  if (split >= splits) return;
  const int64_t k_begin = split * chunk;
  const int64_t k_end = std::min(n_keys, k_begin + chunk);
  const bool owner = pos < k_end;  // this split writes the new key and value
  E* kc = static_cast<E*>(r.k_cache) + g * r.cs * dh;
  E* vc = static_cast<E*>(r.v_cache) + g * r.cs * dh;

  // Angles in double, as on the CPU (see qk_norm_rope_kernel).
  for (int i = tid; i < half; i += kThreads) {
    const double freq = pow(static_cast<double>(r.theta), -2.0 * i / static_cast<double>(dh));
    double sn, cn;
    sincos(static_cast<double>(pos) * freq, &sn, &cn);
    cos_s[i] = static_cast<float>(cn);
    sin_s[i] = static_cast<float>(sn);
  }
  for (int i = tid; i < group * dh; i += kThreads) o_s[i] = 0.0f;
  if (tid < kMaxQ) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }
  __syncthreads();
  // One warp per head: the group's queries (when this split has keys), then the new key.
  const float q_scale = 1.0f / sqrtf(static_cast<float>(dh));
  for (int j = warp; j < group + (owner ? 1 : 0); j += kThreads / 32) {
    const bool is_q = j < group;
    const float* src = is_q ? r.q + (g * group + j) * dh : r.k + g * dh;
    const float* w = is_q ? r.q_norm : r.k_norm;
    float ss = 0.0f;
    for (int i = lane; i < dh; i += 32) ss += src[i] * src[i];
    const float scale = 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(dh) + r.eps);
    for (int i = lane; i < half; i += 32) {
      const float an = src[i] * scale * w[i], bn = src[i + half] * scale * w[i + half];
      const float ra = an * cos_s[i] - bn * sin_s[i], rb = an * sin_s[i] + bn * cos_s[i];
      if (is_q) {
        q_s[j * dh + i] = ra * q_scale;
        q_s[j * dh + i + half] = rb * q_scale;
      } else {
        kc[pos * dh + i] = from_float<E>(ra);
        kc[pos * dh + i + half] = from_float<E>(rb);
      }
    }
  }
  if (owner) {
    for (int i = tid; i < dh; i += kThreads) vc[pos * dh + i] = from_float<E>(r.v[g * dh + i]);
  }
  __syncthreads();  // the queries, and the new cache row for this block's own reads

  for (int64_t tile = k_begin; tile < k_end; tile += kTile) {
    const int n_in = static_cast<int>(std::min<int64_t>(kTile, k_end - tile));
    if (tid < n_in) {
      float acc[kMaxQ];
#pragma unroll
      for (int qi = 0; qi < kMaxQ; ++qi) acc[qi] = 0.0f;
      const uint4* row = reinterpret_cast<const uint4*>(kc + (tile + tid) * dh);
#pragma unroll 8
      for (int p = 0; p < packs; ++p) {
        float f[kN];
        unpack<E>(row[p], f);
#pragma unroll
        for (int qi = 0; qi < kMaxQ; ++qi) {
          if (qi < group) {
            const float* qv = q_s + qi * dh + p * kN;
#pragma unroll
            for (int e = 0; e < kN; ++e) acc[qi] = fmaf(f[e], qv[e], acc[qi]);
          }
        }
      }
#pragma unroll
      for (int qi = 0; qi < kMaxQ; ++qi) {
        if (qi < group) s_s[qi * kTile + tid] = acc[qi];
      }
    }
    __syncthreads();
    // Online softmax over the tile: one warp per query.
    for (int qi = warp; qi < group; qi += kThreads / 32) {
      float* sc = s_s + qi * kTile;
      float mx = -INFINITY;
      for (int j = lane; j < n_in; j += 32) mx = fmaxf(mx, sc[j]);
      mx = warp_max(mx);
      const float m_old = m_s[qi], m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
      for (int j = lane; j < n_in; j += 32) {
        const float p = m_new == -INFINITY ? 0.0f : expf(sc[j] - m_new);
        sc[j] = p;
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
    // Values, one query at a time (its rows come from L1 after the first).
    const int pk = tid % packs, kl = tid / packs;
    for (int qi = 0; qi < group; ++qi) {
      if (kl < lanes) {
        float acc[kN];
#pragma unroll
        for (int e = 0; e < kN; ++e) acc[e] = 0.0f;
#pragma unroll 4
        for (int j = kl; j < n_in; j += lanes) {
          float f[kN];
          unpack<E>(reinterpret_cast<const uint4*>(vc + (tile + j) * dh)[pk], f);
          const float p = s_s[qi * kTile + j];
#pragma unroll
          for (int e = 0; e < kN; ++e) acc[e] = fmaf(p, f[e], acc[e]);
        }
#pragma unroll
        for (int e = 0; e < kN; ++e) red_s[kl * dh + pk * kN + e] = acc[e];
      }
      __syncthreads();
      for (int d = tid; d < dh; d += kThreads) {
        float sum = 0.0f;
        for (int l = 0; l < lanes; ++l) sum += red_s[l * dh + d];
        o_s[qi * dh + d] = o_s[qi * dh + d] * corr_s[qi] + sum;
      }
      __syncthreads();
    }
  }

  float* out = a.out + g * group * dh;
  if (splits == 1) {
    for (int i = tid; i < group * dh; i += kThreads) out[i] = o_s[i] / l_s[i / dh];
    return;
  }
  const int64_t stride = dh + 2;
  float* part = a.partial + (g * a.splits + split) * group * stride;
  for (int i = tid; i < group * dh; i += kThreads) part[(i / dh) * stride + i % dh] = o_s[i];
  if (tid < group) {
    part[tid * stride + dh] = m_s[tid];
    part[tid * stride + dh + 1] = l_s[tid];
  }
  merge_splits(a.partial + g * a.splits * group * stride, group, dh, splits, a.counter + g, &last_s,
               s_s, [&](int qi, int64_t d) { return out + qi * dh + d; });
}

}  // namespace

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

void attention_decode(ElemType type, const DecodeAttentionArgs& a, cudaStream_t stream) {
  const QkvRope& r = a.rope;
  const int64_t group = r.h / r.kvh;
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    const int64_t lanes = kThreads / (r.dh / kPack<E>);
    const size_t smem =
        static_cast<size_t>(group * (2 * r.dh + kTile) + lanes * r.dh + r.dh) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(r.kvh), static_cast<unsigned>(a.splits));
    attention_decode_kernel<E><<<grid, kThreads, smem, stream>>>(a);
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
