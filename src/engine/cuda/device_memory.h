#pragma once
// GPU memory as Storage (MemorySpace::Device, counted in memory_in_use() from allocation to
// release) and the host<->device copies of whole arrays, through pinned staging buffers in large
// chunks so that a 0.6B-parameter model moves at the bus's speed.
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "engine/profiler.h"
#include "values/array.h"

namespace hh::cuda {

// `bytes` of device memory for `what` (named in the error). Throws UsageError naming the size,
// the free and the total device memory when the GPU cannot hold it.
std::shared_ptr<Storage> allocate_device(size_t bytes, std::string_view what);

// A zero-filled device array of `type` and `shape`.
Array device_array(ElemType type, Shape shape, std::string_view what);

// Copies between host (or mapped) memory and device memory. One Copier per backend: it owns two
// pinned staging buffers, allocated on first use, so that the host-side memcpy of one chunk
// overlaps the bus transfer of the other.
class Copier {
 public:
  Copier(cudaStream_t stream, Profiler* profiler) : stream_(stream), profiler_(profiler) {}
  ~Copier();
  Copier(const Copier&) = delete;
  Copier& operator=(const Copier&) = delete;

  // `bytes` from host `src` to device `dst`; returns when the copy is complete.
  void to_device(void* dst, const void* src, size_t bytes);
  // `bytes` from device `src` to host `dst`; returns when the copy is complete.
  void to_host(void* dst, const void* src, size_t bytes);

  // A device copy of a host or mapped array (a device array is returned as it is).
  Array upload(const Array& array, std::string_view what);
  // A host copy of a device array (host and mapped arrays are returned as they are).
  Array download(const Array& array);

 private:
  void ensure_staging();

  static constexpr size_t kChunk = size_t{16} << 20;  // bytes per staging buffer
  cudaStream_t stream_;
  Profiler* profiler_;
  void* staging_[2] = {nullptr, nullptr};     // pinned host buffers of kChunk bytes
  cudaEvent_t done_[2] = {nullptr, nullptr};  // when each staging buffer is free again
};

}  // namespace hh::cuda
