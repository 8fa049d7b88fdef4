// Picking the next token on the device, with the decode loop's bookkeeping, so that a step
// needs nothing from the host: argmax (multi-block, the last block to finish merges) and
// sampling by Sampler's rules (engine/sampler.h): weights exp((l - max) / temperature), sorted
// most likely first (a stable radix sort keeps ties in token-id order), cut to top_k and to the
// top_p nucleus, drawn with uniform_random(seed, step). Sums are in double as on the CPU; only
// their order differs, so a draw can differ from the CPU's only when u falls within rounding of
// a boundary.
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/kernels.h"
#include "engine/cuda/launch.cuh"

namespace hh::cuda {

namespace {

constexpr int kArgmaxThreads = 256;
constexpr int kArgmaxMaxBlocks = 128;
constexpr int kSampleThreads = 1024;

struct Best {
  float value;
  int64_t index;
};

// True when a beats b: NaN never wins (between NaNs the lower index does, so all NaN gives 0),
// then the larger value, then the lower index.
__device__ __forceinline__ bool beats(const Best& a, const Best& b) {
  if (isnan(a.value)) return isnan(b.value) && a.index < b.index;
  if (isnan(b.value)) return true;
  return a.value > b.value || (a.value == b.value && a.index < b.index);
}

__device__ Best block_best(Best x, Best* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Best y{__shfl_xor_sync(0xffffffffu, x.value, o), __shfl_xor_sync(0xffffffffu, x.index, o)};
    if (beats(y, x)) x = y;
  }
  __syncthreads();
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  x = scratch[0];
  for (int w = 1; w < n_warps; ++w) {
    if (beats(scratch[w], x)) x = scratch[w];
  }
  return x;
}

// Argmax scratch: per-block bests, the arrival counter, and the result.
struct ArgmaxScratch {
  Best result;
  unsigned counter;
  Best partial[kArgmaxMaxBlocks];
};

int argmax_blocks(int64_t v) {
  return static_cast<int>(
      std::clamp<int64_t>(ceil_div(v, 4 * kArgmaxThreads), 1, kArgmaxMaxBlocks));
}

__device__ void finish_pick(DecodeState* st, int64_t* out, int64_t token, bool advance,
                            cudaGraphConditionalHandle cond) {
  if (advance) st->pos += 1;  // the step's input is now in the cache
  out[st->n_out] = token;
  st->n_out += 1;
  st->token = token;
  const bool done = token == st->eos || st->n_out >= st->max_new || st->pos >= st->cs;
  st->done = done;
  if (cond != 0) cudaGraphSetConditional(cond, done ? 0u : 1u);
}

// The whole block gathers the picked token's row (NextEmbedding), as the embedding kernel does;
// `token` is the same in every thread.
__device__ void embed_picked(const NextEmbedding& e, int64_t token) {
  if (e.table == nullptr) return;
  switch (e.type) {
    case ElemType::BF16:
      gather_row(static_cast<const __nv_bfloat16*>(e.table), token, e.d, e.x);
      break;
    case ElemType::F16:
      gather_row(static_cast<const __half*>(e.table), token, e.d, e.x);
      break;
    default:
      gather_row(static_cast<const float*>(e.table), token, e.d, e.x);
  }
}

// Grid (argmax_blocks(v)). The last block to finish merges, writes s->result, and with `st`
// set finishes the pick.
__global__ void __launch_bounds__(kArgmaxThreads)
    argmax_kernel(const float* __restrict__ logits, int64_t v, ArgmaxScratch* s, DecodeState* st,
                  int64_t* out, bool advance, cudaGraphConditionalHandle cond, NextEmbedding next) {
  __shared__ Best scratch[kArgmaxThreads / 32];
  __shared__ bool last;
  pdl_wait();  // the logits come from the kernel before
  Best best{NAN, INT64_MAX};
  for (int64_t i = blockIdx.x * int64_t{kArgmaxThreads} + threadIdx.x; i < v;
       i += int64_t{gridDim.x} * kArgmaxThreads) {
    const Best c{logits[i], i};
    if (beats(c, best)) best = c;
  }
  best = block_best(best, scratch);
  if (threadIdx.x == 0) {
    s->partial[blockIdx.x] = best;
    __threadfence();
    last = atomicAdd(&s->counter, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  Best b{NAN, INT64_MAX};
  for (unsigned i = threadIdx.x; i < gridDim.x; i += kArgmaxThreads) {
    const Best c{__ldcg(&s->partial[i].value), __ldcg(&s->partial[i].index)};
    if (beats(c, b)) b = c;
  }
  b = block_best(b, scratch);  // the same in every thread
  if (threadIdx.x == 0) {
    s->counter = 0;
    s->result = b;
    if (st != nullptr) finish_pick(st, out, b.index, advance, cond);
  }
  embed_picked(next, b.index);  // null table (sampling's first argmax): nothing
}

void launch_argmax(const float* logits, int64_t v, ArgmaxScratch* s, DecodeState* st, int64_t* out,
                   bool advance, unsigned long long cond, const NextEmbedding& next,
                   cudaStream_t stream) {
  launch_chained(argmax_kernel, dim3(argmax_blocks(v)), dim3(kArgmaxThreads), 0, stream, logits, v,
                 s, st, out, advance, static_cast<cudaGraphConditionalHandle>(cond), next);
}

// SplitMix64's finaliser and uniform_random (engine/sampler.cpp), bit for bit.
__device__ uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
__device__ double uniform_random(uint64_t seed, uint64_t step) {
  const uint64_t bits = mix64(seed ^ mix64(step));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// weights (v) = exp((l - max) / temperature) as sort keys (non-negative floats order as their
// bits), ids (v) = 0..v-1.
__global__ void weights_kernel(const float* __restrict__ logits, int64_t v, const Best* top,
                               const DecodeState* st, uint32_t* keys, int32_t* ids) {
  const float m = top->value;
  const float inv_t = 1.0f / st->temperature;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < v;
       i += int64_t{gridDim.x} * blockDim.x) {
    keys[i] = __float_as_uint(expf((logits[i] - m) * inv_t));
    ids[i] = static_cast<int32_t>(i);
  }
}

// One block: the cut and the draw over the candidates in order (sorted, or token-id order when
// nothing is cut, as Sampler does). Each thread sums a contiguous run of candidates; an
// exclusive scan of the runs gives every candidate's cumulative mass.
__global__ void __launch_bounds__(kSampleThreads)
    draw_kernel(int64_t v, const uint32_t* keys, const uint32_t* sorted_keys,
                const int32_t* sorted_ids, const Best* top, DecodeState* st, int64_t* out,
                bool advance, cudaGraphConditionalHandle cond, NextEmbedding next) {
  __shared__ double run_sum[kSampleThreads];
  __shared__ double prefix[kSampleThreads + 1];
  __shared__ unsigned long long first;
  const int tid = threadIdx.x;
  const uint64_t step = static_cast<uint64_t>(st->n_out);
  if (st->temperature == 0.0f || st->top_k == 1) {
    if (tid == 0) finish_pick(st, out, top->index, advance, cond);
    embed_picked(next, top->index);
    return;
  }
  const bool cut_k = st->top_k > 0 && st->top_k < v;
  const bool sorted = cut_k || st->top_p < 1.0f;
  const int64_t n = cut_k ? st->top_k : v;
  auto weight = [&](int64_t i) {
    return static_cast<double>(__uint_as_float(sorted ? sorted_keys[i] : keys[i]));
  };
  auto id = [&](int64_t i) { return sorted ? static_cast<int64_t>(sorted_ids[i]) : i; };

  const int64_t per = ceil_div(n, kSampleThreads);
  const int64_t lo = std::min(n, tid * per), hi = std::min(n, lo + per);
  double s = 0.0;
  for (int64_t i = lo; i < hi; ++i) s += weight(i);
  run_sum[tid] = s;
  __syncthreads();
  if (tid == 0) {
    // 1024 runs: a serial scan in one thread is short next to the sort.
    double acc = 0.0;
    for (int i = 0; i < kSampleThreads; ++i) {
      prefix[i] = acc;
      acc += run_sum[i];
    }
    prefix[kSampleThreads] = acc;
  }
  __syncthreads();
  const double total = prefix[kSampleThreads];
  if (!(total > 0.0) || isinf(total)) {
    if (tid == 0) {
      st->error = static_cast<int64_t>(step) + 1;
      st->done = 1;
      if (cond != 0) cudaGraphSetConditional(cond, 0u);
    }
    return;
  }
  // Nucleus: the fewest candidates whose mass reaches top_p * total.
  int64_t keep = n;
  double kept = total;
  if (st->top_p < 1.0f) {
    const double target = static_cast<double>(st->top_p) * total;
    if (tid == 0) first = ~0ull;
    __syncthreads();
    double acc = prefix[tid];
    for (int64_t i = lo; i < hi; ++i) {
      acc += weight(i);
      if (acc >= target) {
        atomicMin(&first, static_cast<unsigned long long>(i));
        break;
      }
    }
    __syncthreads();
    if (first != ~0ull) {
      keep = static_cast<int64_t>(first) + 1;
      // The kept mass: the run's prefix plus its candidates up to the cut.
      const int64_t run = (keep - 1) / per;
      double k = prefix[run];
      for (int64_t i = run * per; i < keep; ++i) k += weight(i);
      kept = k;
    }
  }
  const double u = uniform_random(st->seed, step) * kept;
  __syncthreads();
  if (tid == 0) first = ~0ull;
  __syncthreads();
  double acc = prefix[tid];
  for (int64_t i = lo; i < std::min(hi, keep); ++i) {
    acc += weight(i);
    if (u < acc) {
      atomicMin(&first, static_cast<unsigned long long>(i));
      break;
    }
  }
  __syncthreads();
  const int64_t pick = first != ~0ull ? static_cast<int64_t>(first) : keep - 1;
  if (tid == 0) finish_pick(st, out, id(pick), advance, cond);
  embed_picked(next, id(pick));
}

// Sampling scratch layout: ArgmaxScratch, keys (v), sorted keys (v), ids (v), sorted ids (v),
// then cub's temporary storage; each part 256-byte aligned.
struct SampleLayout {
  size_t keys, sorted_keys, ids, sorted_ids, temp, temp_bytes, total;
};

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

SampleLayout sample_layout(int64_t v) {
  SampleLayout l{};
  size_t temp_bytes = 0;
  HH_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(
      nullptr, temp_bytes, static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), v));
  const size_t n = static_cast<size_t>(v) * 4;
  l.keys = align256(sizeof(ArgmaxScratch));
  l.sorted_keys = l.keys + align256(n);
  l.ids = l.sorted_keys + align256(n);
  l.sorted_ids = l.ids + align256(n);
  l.temp = l.sorted_ids + align256(n);
  l.temp_bytes = temp_bytes;
  l.total = l.temp + align256(temp_bytes);
  return l;
}

}  // namespace

size_t argmax_scratch_bytes(int64_t) { return sizeof(ArgmaxScratch); }

size_t sample_scratch_bytes(int64_t v) { return sample_layout(v).total; }

void pick_argmax(const float* logits, int64_t v, DecodeState* state, int64_t* out, bool advance,
                 unsigned long long cond, const NextEmbedding& next, void* scratch,
                 cudaStream_t stream) {
  launch_argmax(logits, v, static_cast<ArgmaxScratch*>(scratch), state, out, advance, cond, next,
                stream);
}

void pick_sample(const float* logits, int64_t v, DecodeState* state, int64_t* out, bool advance,
                 unsigned long long cond, const NextEmbedding& next, void* scratch,
                 size_t scratch_bytes, cudaStream_t stream) {
  const SampleLayout l = sample_layout(v);
  if (scratch_bytes < l.total) throw_usage("sampling scratch is too small");
  auto* base = static_cast<std::byte*>(scratch);
  auto* am = reinterpret_cast<ArgmaxScratch*>(base);
  auto* keys = reinterpret_cast<uint32_t*>(base + l.keys);
  auto* sorted_keys = reinterpret_cast<uint32_t*>(base + l.sorted_keys);
  auto* ids = reinterpret_cast<int32_t*>(base + l.ids);
  auto* sorted_ids = reinterpret_cast<int32_t*>(base + l.sorted_ids);
  // The maximum (and the greedy answer) first; the bookkeeping waits for the draw.
  launch_argmax(logits, v, am, nullptr, nullptr, false, 0, NextEmbedding{}, stream);
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(v, 256), 1024));
  weights_kernel<<<blocks, 256, 0, stream>>>(logits, v, &am->result, state, keys, ids);
  HH_CUDA_CHECK_LAUNCH();
  size_t temp_bytes = l.temp_bytes;
  HH_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(
      base + l.temp, temp_bytes, keys, sorted_keys, ids, sorted_ids, v, 0, 32, stream));
  draw_kernel<<<1, kSampleThreads, 0, stream>>>(v, keys, sorted_keys, sorted_ids, &am->result,
                                                state, out, advance, cond, next);
  HH_CUDA_CHECK_LAUNCH();
}

__global__ void set_condition_kernel(const DecodeState* st, cudaGraphConditionalHandle cond) {
  cudaGraphSetConditional(cond, st->done ? 0u : 1u);
}

void set_loop_condition(const DecodeState* state, unsigned long long cond, cudaStream_t stream) {
  set_condition_kernel<<<1, 1, 0, stream>>>(state, cond);
  HH_CUDA_CHECK_LAUNCH();
}

}  // namespace hh::cuda
