#pragma once
// Decode timeline, for finding where a step's time goes between and inside kernels (kernel
// timers and Nsight Compute see kernels one at a time, without the overlap of chained launches).
// With HH_CUDA_TRACE=FILE every block of every matrix-vector and attention launch of the decode
// steps records when it started, when its wait for the kernel before was over and when it left
// (%globaltimer, trace.cuh); after each generation the records are appended to FILE as CSV
// (gen,launch,step,sm,block,start,waited,end, gen counting this process's flushes; one header
// line per file) and bench/cuda/timeline.py summarises them. Launches are numbered in step
// order: layer l's QKV product 5l + 1, its attention 5l + 2, output projection 5l + 3, gate/up
// 5l + 4, down 5l + 5, the output matrix 5 n_layers + 1.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>

#include "engine/cuda/kernels.h"
#include "values/array.h"

namespace hh::cuda {

class DecodeTrace {
 public:
  // Null unless HH_CUDA_TRACE names a file. HH_CUDA_TRACE_STEPS=FIRST:END records only the
  // steps at positions [FIRST, END) (a 0.6B step is ~58k block records), HH_CUDA_TRACE_GENS=N
  // writes only the first N generations, HH_CUDA_TRACE_RECORDS the buffer's size in records
  // (default 8M, 320 MB of GPU memory).
  static std::unique_ptr<DecodeTrace> from_environment();

  struct Settings {
    std::string path;
    unsigned long long capacity = 8ull << 20;
    int64_t first_step = 0, end_step = INT64_MAX;
    unsigned long long generations = ~0ull;
  };
  explicit DecodeTrace(Settings settings);

  // The tag of a launch (number as above); `step` is the decode state's position on the device.
  TraceTag tag(uint32_t launch, const int64_t* step) const;

  // Appends the records so far to the file (waits for the stream) and empties the buffer.
  // Records beyond the buffer are counted and reported on stderr, not written.
  void flush(cudaStream_t stream);

 private:
  Settings settings_;
  Array records_;  // (capacity) TraceRecord, device
  Array count_;    // (1) unsigned long long, device
  unsigned long long generation_ = 0;
};

}  // namespace hh::cuda
