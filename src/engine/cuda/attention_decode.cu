// Decode attention (one new token) fused with Qwen3's query and key RMSNorm, RoPE and the cache
// update. Grid (h, splits): block (j, s) serves query head j over split s of the positions
// [0, pos], at least kMinSplitKeys of them, so caches up to that length take one block per query
// head and no merge. The block's warps walk the keys independently, each over its own contiguous
// rows with its own online softmax, and meet once at the end in shared memory: there is no
// barrier inside the key loop, and every load of a step is issued before any of its values is
// used, the next step's as soon as the current one's are unpacked. At short caches the work is a
// chain of dependent steps, not bandwidth (ncu: ~2 % issue slots busy), so the chain is kept
// short: one query head per block (the group's heads read the same keys from L2), few keys per
// warp, and the head width a compile-time constant where it is 128 (every Qwen3 model).
#include <algorithm>
#include <cmath>

#include "engine/cuda/attention_merge.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/trace.cuh"

namespace hh::cuda {

namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kSlots = 4;           // 16-byte loads of keys (and as many of values) per lane
constexpr int kMinSplitKeys = 256;  // positions per split, at least
constexpr int kMaxHeadDim = 256;

__host__ __device__ constexpr int ceil_div_int(int a, int b) { return (a + b - 1) / b; }

// A cache row of dh elements is P 16-byte packs, read by a row group of G lanes (the smallest
// power of two >= P, at most 32), lane j taking packs j and j + G (PL of them: 1, or 2 for f32
// rows of more than 32 packs). A warp reads RW = 32 / G rows per load, and `rows` per step.
struct Geometry {
  int P, G, PL, RW, rows;
};
__host__ __device__ constexpr Geometry geometry(int dh, int kN) {
  Geometry r{};
  r.P = dh / kN;
  r.G = 1;
  while (r.G < r.P && r.G < 32) r.G *= 2;
  r.PL = ceil_div_int(r.P, r.G);
  r.RW = 32 / r.G;
  r.rows = r.RW * (kSlots / r.PL);
  return r;
}

// Floats of the output scratch: the warps' partial outputs, reused for the split merge's weights.
__host__ __device__ constexpr int out_scratch_floats(int dh, int splits) {
  return kWarps * dh > 2 * splits ? kWarps * dh : 2 * splits;
}

// kDh: the head width, or 0 to take it from the arguments.
template <typename E, int kPL, int kDh>
__global__ void __launch_bounds__(kThreads, 1) attention_decode_kernel(DecodeAttentionArgs a) {
  if (!a.trigger_after_wait) pdl_launch_dependents();
  extern __shared__ __align__(16) unsigned char dsmem[];
  __shared__ int last_s;
  __shared__ TraceMarks marks;
  trace_mark(a.trace, marks.start);
  constexpr int kN = kPack<E>;
  constexpr int kPairs = (kDh != 0 ? kDh : kMaxHeadDim) / 2 / 32;  // RoPE pairs per lane
  constexpr int kRowSets = kSlots / kPL;
  const QkvRope& r = a.rope;
  const int group = static_cast<int>(r.h / r.kvh);
  const int dh = kDh != 0 ? kDh : static_cast<int>(r.dh), half = dh / 2;
  const Geometry geo = kDh != 0 ? geometry(kDh, kN) : geometry(dh, kN);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int head = static_cast<int>(blockIdx.x), split = static_cast<int>(blockIdx.y);
  const int g = head / group;                            // its kv head
  E* knew_s = reinterpret_cast<E*>(dsmem);               // (dh) the new key, rotated
  E* vnew_s = knew_s + dh;                               // (dh) the new value
  float* q_s = reinterpret_cast<float*>(vnew_s + dh);    // (dh) the query / sqrt(dh)
  float* o_s = q_s + dh;                                 // (warps, dh) partial outputs
  float* ml_s = o_s + out_scratch_floats(dh, a.splits);  // (warps, 2) m and l

  E* kc = static_cast<E*>(r.k_cache) + static_cast<size_t>(g) * r.cs * dh;
  E* vc = static_cast<E*>(r.v_cache) + static_cast<size_t>(g) * r.cs * dh;
  // Slot s of this lane: pack spack(s) (-1: past the row's end) of row base + srow(s) of a step.
  const int lane_row = lane / geo.G, lane_pack = lane % geo.G;
  const auto srow = [&](int s) { return (s / kPL) * geo.RW + lane_row; };
  const auto spack = [&](int s) {
    const int pack = lane_pack + (s % kPL) * geo.G;
    return pack < geo.P ? pack : -1;
  };
  const int step_rows = kWarps * geo.rows;
  uint4 kr[kSlots], vr[kSlots];
  // Rows [base, end) of a step from a cache plane except `skip`; zeros elsewhere.
  const auto load = [&](uint4* regs, const E* plane, int base, int end, int skip) {
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      const int row = base + srow(s);
      regs[s] = make_uint4(0u, 0u, 0u, 0u);
      if (spack(s) >= 0 && row < end && row != skip) {
        regs[s] = reinterpret_cast<const uint4*>(plane + static_cast<size_t>(row) * dh)[spack(s)];
      }
    }
  };
  // The position and the cache rows before it are final before a step's chained kernels start
  // (launch.cuh). The first split's first rows do not depend on the position: they are requested
  // before it is even read (rows past it are masked where they are used), the other splits' once
  // it is known; all before waiting for the query.
  const int first_of_split0 = warp * geo.rows;
  if (split == 0) {
    load(kr, kc, first_of_split0, static_cast<int>(r.cs), -1);
    load(vr, vc, first_of_split0, static_cast<int>(r.cs), -1);
  }
  const int pos = static_cast<int>(r.pos_dev != nullptr ? *r.pos_dev : r.pos);
  const int n_keys = pos + 1;
  const int chunk = ceil_div_int(ceil_div_int(n_keys, a.splits), kMinSplitKeys) * kMinSplitKeys;
  const int splits = ceil_div_int(n_keys, chunk);
  if (split >= splits) {
    pdl_wait();
    return;  // not recorded: idle
  }
  const int k_begin = split * chunk, k_end = std::min(n_keys, k_begin + chunk);
  const bool owner = pos < k_end;                  // this split holds the new key and value
  const bool writer = owner && head % group == 0;  // and this block writes them to the cache
  const int first = k_begin + warp * geo.rows;
  if (split != 0 && first < k_end) {
    load(kr, kc, first, k_end, pos);
    load(vr, vc, first, k_end, pos);
  }
  // The new position's key and value from shared memory (never read back from the cache).
  const auto patch = [&](int base) {
    if (!owner) return;
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      if (spack(s) >= 0 && base + srow(s) == pos) {
        kr[s] = reinterpret_cast<const uint4*>(knew_s)[spack(s)];
        vr[s] = reinterpret_cast<const uint4*>(vnew_s)[spack(s)];
      }
    }
  };
  // Warp 0 normalises and rotates the query head, warp 1 (owner only) the new key: their norm
  // weights and the rotation are constants of the step, ready before the wait.
  const bool rotates = warp == 0 || (warp == 1 && owner);
  const bool is_q = warp == 0;
  float w0[kPairs], w1[kPairs], cos_a[kPairs], sin_a[kPairs];
  if (rotates) {
    const float* w = is_q ? r.q_norm : r.k_norm;
#pragma unroll
    for (int k = 0; k < kPairs; ++k) {
      const int i = lane + 32 * k;
      w0[k] = w1[k] = cos_a[k] = sin_a[k] = 0.0f;
      if (i < half) {
        w0[k] = w[i];
        w1[k] = w[i + half];
        rope_cos_sin(pos, r.inv_freq[i], &cos_a[k], &sin_a[k]);
      }
    }
  }
  pdl_wait();  // the new token's q, k and v come from the QKV product
  if (a.trigger_after_wait) pdl_launch_dependents();
  trace_mark(a.trace, marks.waited);

  if (owner) {
    for (int i = tid; i < dh; i += kThreads) {
      const E v = from_float<E>(r.v[g * dh + i]);
      vnew_s[i] = v;
      if (writer) vc[pos * dh + i] = v;
    }
  }
  if (rotates) {
    const float* src = is_q ? r.q + head * dh : r.k + g * dh;
    float x0[kPairs], x1[kPairs];
    const float scale = load_head_pairs(src, half, lane, r.eps, x0, x1);
    const float q_scale = 1.0f / sqrtf(static_cast<float>(dh));
#pragma unroll
    for (int k = 0; k < kPairs; ++k) {
      const int i = lane + 32 * k;
      if (i >= half) continue;
      const float an = x0[k] * scale * w0[k], bn = x1[k] * scale * w1[k];
      const float ra = an * cos_a[k] - bn * sin_a[k], rb = an * sin_a[k] + bn * cos_a[k];
      if (is_q) {
        q_s[i] = ra * q_scale;
        q_s[i + half] = rb * q_scale;
      } else {
        const E ea = from_float<E>(ra), eb = from_float<E>(rb);
        knew_s[i] = ea;
        knew_s[i + half] = eb;
        if (writer) {
          kc[pos * dh + i] = ea;
          kc[pos * dh + i + half] = eb;
        }
      }
    }
  }
  __syncthreads();  // query, new key and value

  float m = -INFINITY, l = 0.0f, o[kPL * kN];
#pragma unroll
  for (int e = 0; e < kPL * kN; ++e) o[e] = 0.0f;
  if (first < k_end) patch(first);
  for (int base = first; base < k_end; base += step_rows) {
    const int next = base + step_rows;
    // Scores: each slot's pack against the query, then summed over the row group.
    float sc[kSlots];
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      float kf[kN];
      unpack<E>(kr[s], kf);
      sc[s] = 0.0f;
      if (spack(s) >= 0) {
        const float4* qv = reinterpret_cast<const float4*>(q_s + spack(s) * kN);
#pragma unroll
        for (int e = 0; e < kN / 4; ++e) {
          const float4 x = qv[e];
          sc[s] = fmaf(kf[4 * e], x.x, sc[s]);
          sc[s] = fmaf(kf[4 * e + 1], x.y, sc[s]);
          sc[s] = fmaf(kf[4 * e + 2], x.z, sc[s]);
          sc[s] = fmaf(kf[4 * e + 3], x.w, sc[s]);
        }
      }
    }
    if (next < k_end) load(kr, kc, next, k_end, pos);
    // Online softmax over the warp's rows of the step (row set t: slots t kPL ...).
    float mt = -INFINITY;
#pragma unroll
    for (int t = 0; t < kRowSets; ++t) {
      float v = sc[t * kPL];
      if constexpr (kPL == 2) v += sc[t * kPL + 1];
      for (int off = geo.G >> 1; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      v = base + srow(t * kPL) < k_end ? v : -INFINITY;
      sc[t] = v;
      mt = fmaxf(mt, v);
    }
    for (int off = geo.G; off < 32; off <<= 1)
      mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, off));
    // The warp's first row of the step is a key, so m_new is finite.
    const float m_new = fmaxf(m, mt), corr = expf(m - m_new);
    float psum = 0.0f;
#pragma unroll
    for (int t = 0; t < kRowSets; ++t) {
      sc[t] = expf(sc[t] - m_new);
      psum += sc[t];
    }
    l = l * corr + psum;
    m = m_new;
    // Values: o = o corr + p V over the lane's rows.
#pragma unroll
    for (int e = 0; e < kPL * kN; ++e) o[e] *= corr;
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      float vf[kN];
      unpack<E>(vr[s], vf);
      const float p = sc[s / kPL];
      if (base + srow(s) >= k_end) continue;  // its value may be anything (see above)
#pragma unroll
      for (int e = 0; e < kN; ++e) o[(s % kPL) * kN + e] = fmaf(p, vf[e], o[(s % kPL) * kN + e]);
    }
    if (next < k_end) {
      load(vr, vc, next, k_end, pos);
      patch(next);
    }
  }
  // Sum over the warp's row groups (l was per lane over its own rows), then into shared memory.
  for (int off = geo.G; off < 32; off <<= 1) {
    l += __shfl_xor_sync(0xffffffffu, l, off);
#pragma unroll
    for (int e = 0; e < kPL * kN; ++e) o[e] += __shfl_xor_sync(0xffffffffu, o[e], off);
  }
  if (lane < geo.G) {
#pragma unroll
    for (int k = 0; k < kPL; ++k) {
      const int pack = lane + k * geo.G;
      if (pack >= geo.P) continue;
#pragma unroll
      for (int e = 0; e < kN; ++e) o_s[warp * dh + pack * kN + e] = o[k * kN + e];
    }
  }
  if (lane == 0) {
    ml_s[2 * warp] = m;
    ml_s[2 * warp + 1] = l;
  }
  __syncthreads();
  // The warps' partial results combined: the output, or this split's partial result.
  float* part = a.partial + (static_cast<size_t>(head) * a.splits + split) * (dh + 2);
  for (int d = tid; d < dh; d += kThreads) {
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, ml_s[2 * w]);
    float num = 0.0f, den = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float mw = ml_s[2 * w];
      const float c = mw == -INFINITY ? 0.0f : expf(mw - mx);
      num = fmaf(c, o_s[w * dh + d], num);
      den = fmaf(c, ml_s[2 * w + 1], den);
    }
    if (splits == 1) {
      a.out[head * dh + d] = num / den;
    } else {
      part[d] = num;
      if (d == 0) {
        part[dh] = mx;
        part[dh + 1] = den;
      }
    }
  }
  if (splits > 1) {
    merge_splits(a.partial + static_cast<size_t>(head) * a.splits * (dh + 2), 1, dh, splits,
                 a.counter + head, &last_s, o_s, [&](int, int d) { return a.out + head * dh + d; });
  }
  trace_record(a.trace, marks);
}

}  // namespace

int attention_decode_splits(int64_t h, int64_t cs, int sm_count) {
  // About one block per multiprocessor once the cache is long enough.
  const int64_t want = std::max<int64_t>(1, sm_count / std::max<int64_t>(h, 1));
  return static_cast<int>(
      std::clamp<int64_t>(std::min(want, ceil_div(cs, int64_t{kMinSplitKeys})), 1, 64));
}

size_t attention_decode_scratch_floats(int64_t h, int64_t dh, int splits) {
  return static_cast<size_t>(h * splits * (dh + 2));
}

size_t attention_decode_counters(int64_t h) { return static_cast<size_t>(h); }

void attention_decode(ElemType type, const DecodeAttentionArgs& a, cudaStream_t stream) {
  const QkvRope& r = a.rope;
  check_attention_shape(r.h, r.kvh, r.dh);
  const int dh = static_cast<int>(r.dh);
  visit_dtype(type, [&](auto tag) {
    using E = decltype(tag);
    const size_t smem =
        2 * static_cast<size_t>(dh) * sizeof(E) +
        (static_cast<size_t>(dh) + out_scratch_floats(dh, a.splits) + 2 * kWarps) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(r.h), static_cast<unsigned>(a.splits));
    const auto run = [&](auto kernel) {
      if (smem > 48 * 1024) {
        HH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(smem)));
      }
      launch_chained(kernel, grid, dim3(kThreads), smem, stream, a);
    };
    if (dh == 128) return run(attention_decode_kernel<E, geometry(128, kPack<E>).PL, 128>);
    if constexpr (sizeof(E) == 4) {
      if (geometry(dh, kPack<E>).PL == 2) return run(attention_decode_kernel<E, 2, 0>);
    }
    run(attention_decode_kernel<E, 1, 0>);
  });
}

}  // namespace hh::cuda
