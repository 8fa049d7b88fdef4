#pragma once
// Per-kernel cost centres for the profiler: while it is active, every launch made through
// KernelTimer::run is bracketed by a pair of CUDA events, and flush() turns the pairs into
// profiler events (host microseconds). While it is off, run() only launches: no event, no
// synchronisation.
#include <cuda_runtime.h>

#include <utility>
#include <vector>

#include "engine/profiler.h"

namespace hh::cuda {

class KernelTimer {
 public:
  KernelTimer(cudaStream_t stream, Profiler* profiler) : stream_(stream), profiler_(profiler) {}
  ~KernelTimer();
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

  bool active() const { return profiler_ != nullptr && profiler_->active(); }

  template <typename Launch>
  void run(const char* name, Launch&& launch) {
    if (!active()) {
      launch();
      return;
    }
    const size_t i = begin(name);
    launch();
    end(i);
  }

  // Waits for the timed launches and records them with the profiler.
  void flush();

 private:
  struct Pending {
    const char* name;
    cudaEvent_t start;
    cudaEvent_t stop;
  };
  size_t begin(const char* name);
  void end(size_t index);
  cudaEvent_t take_event();

  cudaStream_t stream_;
  Profiler* profiler_;
  cudaEvent_t base_ = nullptr;  // recorded (and waited for) before the first pending launch
  int64_t base_us_ = 0;         // host time of base_
  std::vector<Pending> pending_;
  std::vector<cudaEvent_t> free_;  // events for reuse
};

}  // namespace hh::cuda
