#pragma once
// Device side of the decode timeline (decode_trace.h): thread 0 of each block notes, in shared
// memory (no registers taken from the kernel), when the block started and when its wait for the
// kernel before was over, and appends one TraceRecord as the block leaves. With tracing off
// (tag.records null) each call is one test of a kernel parameter.
#include "engine/cuda/kernels.h"

namespace hh::cuda {

struct TraceMarks {
  unsigned long long start, waited;
};

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ bool trace_thread(const TraceTag& tag) {
  return tag.records != nullptr && threadIdx.x == 0;
}

__device__ __forceinline__ void trace_mark(const TraceTag& tag, unsigned long long& mark) {
  if (trace_thread(tag)) mark = global_ns();
}

__device__ __forceinline__ void trace_record(const TraceTag& tag, const TraceMarks& marks) {
  if (!trace_thread(tag)) return;
  // The block's end is now: the bookkeeping below (a load and an atomic, round trips to L2)
  // happens after it.
  const unsigned long long end = global_ns();
  const int64_t step = *tag.step;
  if (step < tag.first_step || step >= tag.end_step) return;
  const unsigned long long i = atomicAdd(tag.count, 1ull);
  if (i >= tag.capacity) return;
  unsigned sm;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
  tag.records[i] = TraceRecord{tag.launch,  static_cast<uint32_t>(step),
                               sm,          blockIdx.x + blockIdx.y * gridDim.x,
                               marks.start, marks.waited,
                               end};
}

}  // namespace hh::cuda
