#include "engine/cuda/kernel_timer.h"

#include <cmath>

#include "engine/cuda/cuda_check.h"

namespace hh::cuda {

KernelTimer::~KernelTimer() {
  for (const Pending& p : pending_) {
    cudaEventDestroy(p.start);
    cudaEventDestroy(p.stop);
  }
  for (cudaEvent_t e : free_) cudaEventDestroy(e);
  if (base_ != nullptr) cudaEventDestroy(base_);
}

cudaEvent_t KernelTimer::take_event() {
  if (!free_.empty()) {
    cudaEvent_t e = free_.back();
    free_.pop_back();
    return e;
  }
  cudaEvent_t e = nullptr;
  HH_CUDA_CHECK(cudaEventCreate(&e));
  return e;
}

size_t KernelTimer::begin(const char* name) {
  if (pending_.empty()) {
    // The host time of a device event is known only once it has completed: wait for the base
    // event, then every other event is placed relative to it.
    if (base_ == nullptr) HH_CUDA_CHECK(cudaEventCreate(&base_));
    HH_CUDA_CHECK(cudaEventRecord(base_, stream_));
    HH_CUDA_CHECK(cudaEventSynchronize(base_));
    base_us_ = Profiler::now_us();
  }
  Pending p{name, take_event(), take_event()};
  HH_CUDA_CHECK(cudaEventRecord(p.start, stream_));
  pending_.push_back(p);
  return pending_.size() - 1;
}

void KernelTimer::end(size_t index) {
  HH_CUDA_CHECK(cudaEventRecord(pending_[index].stop, stream_));
}

void KernelTimer::flush() {
  if (pending_.empty()) return;
  std::vector<Pending> pending = std::move(pending_);
  pending_.clear();
  HH_CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (const Pending& p : pending) {
    float start_ms = 0.0f, stop_ms = 0.0f;
    HH_CUDA_CHECK(cudaEventElapsedTime(&start_ms, base_, p.start));
    HH_CUDA_CHECK(cudaEventElapsedTime(&stop_ms, base_, p.stop));
    if (profiler_ != nullptr) {
      profiler_->record(p.name, base_us_ + std::llround(start_ms * 1000.0),
                        base_us_ + std::llround(stop_ms * 1000.0), "gpu");
    }
    free_.push_back(p.start);
    free_.push_back(p.stop);
  }
}

}  // namespace hh::cuda
