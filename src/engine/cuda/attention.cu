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
constexpr int64_t kMinSplitKeys = 16;  // decode: positions per split, at least

int queries_tokens(int64_t T, int64_t group) {
  return static_cast<int>(std::min<int64_t>(T, std::max<int64_t>(1, kMaxQ / group)));
}

// One tile's step of the online softmax for query qi (lane 0 of the query's warp): the running
// max moves from m_old to m_new, the running sum is rescaled by e^(m_old - m_new) and gains the
// tile's `sum`, and the factor is kept for rescaling the output accumulator.
__device__ inline void online_softmax_step(float* m_s, float* l_s, float* corr_s, int qi,
                                           float m_old, float m_new, float sum) {
  const float c = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
  corr_s[qi] = c;
  m_s[qi] = m_new;
  l_s[qi] = l_s[qi] * c + sum;
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
      if (lane == 0) online_softmax_step(m_s, l_s, corr_s, qi, m_old, m_new, sum);
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

// Decode tile geometry at head width dh with kN elements per 16-byte pack. A cache row is P
// packs, read by a row group of G lanes (the largest power of two up to P and 32), lane j taking
// packs j, j + G, ... (PL <= 2 of them); a warp reads 32 / G rows at once, the block 128 / G.
// Every thread holds kSlots packs of keys and kSlots of values per tile, slot s being pack
// (s % PL) of round s / PL, so a tile is NK = rounds * 128 / G keys (at most 128), all of
// them requested with one load per slot before any of them is used.
constexpr int kSlots = 4;
constexpr int kRedFloats = 2048;  // value-pass cross-warp partial sums (floats of shared memory)
struct DecodeGeometry {
  int P, G, PL, rounds, NK;
};
__host__ __device__ inline DecodeGeometry decode_geometry(int dh, int kN) {
  DecodeGeometry d{};
  d.P = dh / kN;
  d.G = 1;
  while (d.G * 2 <= d.P && d.G * 2 <= 32) d.G *= 2;
  d.PL = (d.P + d.G - 1) / d.G;
  d.rounds = kSlots / d.PL < d.G ? kSlots / d.PL : d.G;
  d.NK = d.rounds * (kThreads / d.G);
  return d;
}
// Queries whose value-pass partial sums (one row of dh per warp each) are reduced at once.
__host__ __device__ inline int decode_query_batch(int group, int dh) {
  const int qb = kRedFloats / (4 * dh);
  return qb < 1 ? 1 : (qb < group ? qb : group);
}

// Decode (one token), fused with the query and key norms, RoPE and the cache update. Grid (kvh,
// splits): block (g, s) serves the query heads of kv head g over split s of the positions, at
// least kMinSplitKeys of them (short caches leave the later splits idle; one split: no merge).
// Every load a block needs is issued before anything waits on one: its first tile of keys and
// values (kSlots 16-byte loads a thread each, coalesced rows), the group's query heads, the new
// key and value. Each warp normalises and rotates whole heads (cos and sin from the precomputed
// inverse frequencies, no double transcendental); the block whose split holds the new position
// writes its key and value to the cache and takes them from shared memory for its own scores
// (the cache row is never read back). Scores: each thread's packs against each query, summed
// over the row group by shuffles; softmax one warp per query; values: each thread's packs
// weighted by their probabilities, summed over the warp's row groups by shuffles and over the
// four warps in shared memory. The next tile's keys are requested as soon as the current ones
// are unpacked, its values once the current values are.
template <typename E>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(DecodeAttentionArgs a) {
  extern __shared__ __align__(16) unsigned char dsmem[];
  __shared__ float m_s[kMaxQ], l_s[kMaxQ], corr_s[kMaxQ];
  __shared__ int last_s;
  constexpr int kN = kPack<E>;
  constexpr int kPairs = kMaxHeadDim / 2 / 32;  // RoPE pairs per lane
  const QkvRope& r = a.rope;
  const int group = static_cast<int>(r.h / r.kvh);
  const int dh = static_cast<int>(r.dh), half = dh / 2;
  const DecodeGeometry geo = decode_geometry(dh, kN);
  const int NK = geo.NK, G = geo.G, PL = geo.PL;
  const int QB = decode_query_batch(group, dh);
  E* knew_e = reinterpret_cast<E*>(dsmem);  // (dh) the new key, rotated, in the cache's type
  E* vnew_e = knew_e + dh;                  // (dh) the new value
  float* q_s = reinterpret_cast<float*>(vnew_e + dh);  // (group, dh) queries times 1/sqrt(dh)
  float* s_s = q_s + group * dh;                       // (group, NK) scores, then probabilities
  float* o_s = s_s + group * NK;                       // (group, dh) running output
  float* red_s = o_s + group * dh;  // (4 warps, QB, dh) value partials; the merge's weights
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t g = blockIdx.x, split = blockIdx.y;
  // Head j's values and norm weights, lane holding the RoPE pairs (i, i + dh/2) for
  // i = lane + 32 k: heads j < group are the group's queries, head group the new key. Each
  // warp's first head and the inverse frequencies are requested before the position is known.
  float x0[kPairs], x1[kPairs], w0[kPairs], w1[kPairs];
  const auto fetch = [&](int j) {
    const bool is_q = j < group;
    const float* src = is_q ? r.q + (g * group + j) * dh : r.k + g * dh;
    const float* w = is_q ? r.q_norm : r.k_norm;
#pragma unroll
    for (int k = 0; k < kPairs; ++k) {
      const int i = lane + 32 * k;
      x0[k] = x1[k] = w0[k] = w1[k] = 0.0f;
      if (i < half) {
        x0[k] = src[i];
        x1[k] = src[i + half];
        w0[k] = w[i];
        w1[k] = w[i + half];
      }
    }
  };
  if (warp <= group) fetch(warp);
  double freq[kPairs];
#pragma unroll
  for (int k = 0; k < kPairs; ++k) {
    const int i = lane + 32 * k;
    freq[k] = i < half ? r.inv_freq[i] : 0.0;
  }
  const int64_t pos = r.pos_dev != nullptr ? *r.pos_dev : r.pos;
  const int64_t n_keys = pos + 1;
  const int64_t chunk = ceil_div(ceil_div(n_keys, a.splits), kMinSplitKeys) * kMinSplitKeys;
  const int splits = static_cast<int>(ceil_div(n_keys, chunk));
  if (split >= splits) return;
  const int64_t k_begin = split * chunk;
  const int64_t k_end = std::min(n_keys, k_begin + chunk);
  const bool owner = pos < k_end;  // this split writes the new key and value
  E* kc = static_cast<E*>(r.k_cache) + g * r.cs * dh;
  E* vc = static_cast<E*>(r.v_cache) + g * r.cs * dh;

  // This thread's slots: row in the tile (-1: past the tile's rounds), pack in the row (-1: past
  // the row's end, where P is not a power of two).
  int srow[kSlots], spack[kSlots];
#pragma unroll
  for (int s = 0; s < kSlots; ++s) {
    const int round = s / PL, pack = lane % G + (s % PL) * G;
    srow[s] = round < geo.rounds ? round * (kThreads / G) + warp * (32 / G) + lane / G : -1;
    spack[s] = pack < geo.P ? pack : -1;
  }
  uint4 kr[kSlots], vr[kSlots];
  // Rows [tile, tile + n_in) of a cache plane, except the new position's (taken from shared
  // memory); zeros elsewhere.
  const auto load = [&](uint4* regs, const E* plane, int64_t tile, int64_t n_in) {
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      regs[s] = make_uint4(0u, 0u, 0u, 0u);
      if (srow[s] >= 0 && spack[s] >= 0 && srow[s] < n_in && tile + srow[s] != pos) {
        regs[s] = reinterpret_cast<const uint4*>(plane + (tile + srow[s]) * dh)[spack[s]];
      }
    }
  };
  load(kr, kc, k_begin, std::min<int64_t>(NK, k_end - k_begin));
  load(vr, vc, k_begin, std::min<int64_t>(NK, k_end - k_begin));

  for (int i = tid; i < group * dh; i += kThreads) o_s[i] = 0.0f;
  if (tid < kMaxQ) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }
  if (owner) {
    for (int i = tid; i < dh; i += kThreads) {
      const E v = from_float<E>(r.v[g * dh + i]);
      vnew_e[i] = v;
      vc[pos * dh + i] = v;
    }
  }
  // One warp per head: the group's queries, then (owner only) the new key.
  const int n_heads = group + (owner ? 1 : 0);
  if (warp < n_heads) {
    float cs[kPairs], sn[kPairs];
#pragma unroll
    for (int k = 0; k < kPairs; ++k) {
      cs[k] = 1.0f;
      sn[k] = 0.0f;
      if (lane + 32 * k < half) rope_cos_sin(pos, freq[k], &cs[k], &sn[k]);
    }
    const float q_scale = 1.0f / sqrtf(static_cast<float>(dh));
    for (int j = warp; j < n_heads; j += kThreads / 32) {
      const bool is_q = j < group;
      if (j != warp) fetch(j);
      float ss = 0.0f;
#pragma unroll
      for (int k = 0; k < kPairs; ++k) ss += x0[k] * x0[k] + x1[k] * x1[k];
      const float scale = 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(dh) + r.eps);
#pragma unroll
      for (int k = 0; k < kPairs; ++k) {
        const int i = lane + 32 * k;
        if (i >= half) continue;
        const float an = x0[k] * scale * w0[k], bn = x1[k] * scale * w1[k];
        const float ra = an * cs[k] - bn * sn[k], rb = an * sn[k] + bn * cs[k];
        if (is_q) {
          q_s[j * dh + i] = ra * q_scale;
          q_s[j * dh + i + half] = rb * q_scale;
        } else {
          const E ea = from_float<E>(ra), eb = from_float<E>(rb);
          knew_e[i] = ea;
          knew_e[i + half] = eb;
          kc[pos * dh + i] = ea;
          kc[pos * dh + i + half] = eb;
        }
      }
    }
  }
  __syncthreads();  // queries, new key and value, running state

  for (int64_t tile = k_begin; tile < k_end; tile += NK) {
    const int n_in = static_cast<int>(std::min<int64_t>(NK, k_end - tile));
    const int64_t next = tile + NK;
    if (owner) {
#pragma unroll
      for (int s = 0; s < kSlots; ++s) {
        if (srow[s] >= 0 && spack[s] >= 0 && tile + srow[s] == pos) {
          kr[s] = reinterpret_cast<const uint4*>(knew_e)[spack[s]];
          vr[s] = reinterpret_cast<const uint4*>(vnew_e)[spack[s]];
        }
      }
    }
    // Scores.
    {
      float kf[kSlots][kN];
#pragma unroll
      for (int s = 0; s < kSlots; ++s) unpack<E>(kr[s], kf[s]);
      if (next < k_end) load(kr, kc, next, std::min<int64_t>(NK, k_end - next));
      for (int qi = 0; qi < group; ++qi) {
        float acc[kSlots];
#pragma unroll
        for (int s = 0; s < kSlots; ++s) {
          acc[s] = 0.0f;
          if (spack[s] >= 0) {
            // 16-byte aligned: dh is a multiple of 8 and q_s starts 2 dh sizeof(E) bytes in.
            const float4* qv = reinterpret_cast<const float4*>(q_s + qi * dh + spack[s] * kN);
#pragma unroll
            for (int e = 0; e < kN / 4; ++e) {
              const float4 qq = qv[e];
              acc[s] = fmaf(kf[s][4 * e], qq.x, acc[s]);
              acc[s] = fmaf(kf[s][4 * e + 1], qq.y, acc[s]);
              acc[s] = fmaf(kf[s][4 * e + 2], qq.z, acc[s]);
              acc[s] = fmaf(kf[s][4 * e + 3], qq.w, acc[s]);
            }
          }
          for (int o = G / 2; o > 0; o >>= 1) acc[s] += __shfl_xor_sync(0xffffffffu, acc[s], o);
        }
        if (lane % G == 0) {
#pragma unroll
          for (int s = 0; s < kSlots; ++s) {
            if (srow[s] < 0 || s % PL != 0) continue;  // one write per row: its first slot
            float v = acc[s];
            if (PL == 2 && s + 1 < kSlots) v += acc[s + 1];
            s_s[qi * NK + srow[s]] = srow[s] < n_in ? v : -INFINITY;
          }
        }
      }
    }
    __syncthreads();
    // Online softmax over the tile: one warp per query.
    for (int qi = warp; qi < group; qi += kThreads / 32) {
      float* sc = s_s + qi * NK;
      float v[kThreads / 32];
      float mx = -INFINITY;
#pragma unroll
      for (int k = 0; k < kThreads / 32; ++k) {
        const int j = lane + 32 * k;
        v[k] = j < NK ? sc[j] : -INFINITY;
        mx = fmaxf(mx, v[k]);
      }
      mx = warp_max(mx);
      const float m_old = m_s[qi], m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
#pragma unroll
      for (int k = 0; k < kThreads / 32; ++k) {
        const int j = lane + 32 * k;
        const float p = m_new == -INFINITY ? 0.0f : expf(v[k] - m_new);
        if (j < NK) sc[j] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) online_softmax_step(m_s, l_s, corr_s, qi, m_old, m_new, sum);
    }
    __syncthreads();
    // Values: o = o * c + sum_j p_j V[j].
    float vf[kSlots][kN];
#pragma unroll
    for (int s = 0; s < kSlots; ++s) unpack<E>(vr[s], vf[s]);
    if (next < k_end) load(vr, vc, next, std::min<int64_t>(NK, k_end - next));
    for (int q0 = 0; q0 < group; q0 += QB) {
      const int qn = std::min(QB, group - q0);
      for (int qq = 0; qq < qn; ++qq) {
        const int qi = q0 + qq;
        float acc[2][kN];
#pragma unroll
        for (int e = 0; e < kN; ++e) acc[0][e] = acc[1][e] = 0.0f;
#pragma unroll
        for (int s = 0; s < kSlots; ++s) {
          if (srow[s] < 0 || spack[s] < 0) continue;
          const float p = s_s[qi * NK + srow[s]];
          if (s % PL == 0) {
#pragma unroll
            for (int e = 0; e < kN; ++e) acc[0][e] = fmaf(p, vf[s][e], acc[0][e]);
          } else {
#pragma unroll
            for (int e = 0; e < kN; ++e) acc[1][e] = fmaf(p, vf[s][e], acc[1][e]);
          }
        }
        // Sum over the warp's row groups (lanes of the same lane % G).
        for (int o = G; o < 32; o <<= 1) {
#pragma unroll
          for (int e = 0; e < kN; ++e) acc[0][e] += __shfl_xor_sync(0xffffffffu, acc[0][e], o);
          if (PL == 2) {
#pragma unroll
            for (int e = 0; e < kN; ++e) acc[1][e] += __shfl_xor_sync(0xffffffffu, acc[1][e], o);
          }
        }
        if (lane < G) {
          float* red = red_s + (warp * QB + qq) * dh;
#pragma unroll
          for (int kk = 0; kk < 2; ++kk) {
            const int pack = lane + kk * G;
            if (kk >= PL || pack >= geo.P) continue;
#pragma unroll
            for (int e = 0; e < kN; ++e) red[pack * kN + e] = acc[kk][e];
          }
        }
      }
      __syncthreads();
      for (int i = tid; i < qn * dh; i += kThreads) {
        const int qq = i / dh, d = i % dh, qi = q0 + qq;
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < kThreads / 32; ++w) sum += red_s[(w * QB + qq) * dh + d];
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
               red_s, [&](int qi, int64_t d) { return out + qi * dh + d; });
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

int attention_decode_splits(int64_t h, int64_t kvh, int64_t cs, int sm_count) {
  if (kvh >= sm_count) return 1;
  // Two blocks per multiprocessor once the cache is long enough.
  const int64_t want = ceil_div(2 * int64_t{sm_count}, kvh);
  return static_cast<int>(std::clamp<int64_t>(std::min(want, ceil_div(cs, kMinSplitKeys)), 1, 64));
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
  const int group = static_cast<int>(r.h / r.kvh), dh = static_cast<int>(r.dh);
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    const DecodeGeometry geo = decode_geometry(dh, kPack<E>);
    const size_t red = std::max<size_t>(4 * decode_query_batch(group, dh) * dh,
                                        2 * static_cast<size_t>(group) * a.splits);
    // At most ~42 KB (group 16, dh 256): within the default limit.
    const size_t smem = 2 * static_cast<size_t>(dh) * sizeof(E) +
                        (static_cast<size_t>(group) * (2 * dh + geo.NK) + red) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(r.kvh), static_cast<unsigned>(a.splits));
    attention_decode_kernel<E><<<grid, kThreads, smem, stream>>>(a);
  });
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
