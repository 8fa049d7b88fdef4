#pragma once
// Programmatic dependent launch (compute capability 9.0 and later). A kernel started with
// launch_chained() may begin while the kernel before it in the stream is still running, as soon
// as every block of that one has called pdl_launch_dependents() (or exited). Before pdl_wait() it
// may read only what nothing still running writes: weights and, in a decode step, the step's
// position and the cache rows of earlier positions (the step's first kernel, the embedding
// gather or layer 0's QKV product, is an ordinary launch and so starts only once the pick
// before it, which moves the position, has finished).
// pdl_wait() returns once the kernel before has finished and its writes are visible; every
// block of a chained kernel calls it before it ends, so a chained kernel never finishes before
// the one it follows. Decode's small kernels thus request their weights while the previous
// kernel drains. A kernel calls pdl_launch_dependents() at its start, or after its own wait
// where the next kernel's requests would queue ahead of loads on the critical path
// (cuda_forward.cpp's decode step says where and what it measured). Elsewhere (older GPUs,
// HH_CUDA_PDL=0) these are plain launches and the two device calls do nothing.
#include <cuda_runtime.h>

#include "engine/cuda/cuda_check.h"

namespace hh::cuda {

// Whether chained launches are on for the current device (compute capability 9.0 or later and
// HH_CUDA_PDL not 0).
bool chained_launch_enabled();

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// chained = false: an ordinary launch (the kernel starts once the one before has finished).
template <typename... Params, typename... Args>
void launch_maybe_chained(bool chained, void (*kernel)(Params...), dim3 grid, dim3 block,
                          size_t smem, cudaStream_t stream, Args... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = chained && chained_launch_enabled() ? 1 : 0;
  HH_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, args...));
}

template <typename... Params, typename... Args>
void launch_chained(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                    cudaStream_t stream, Args... args) {
  launch_maybe_chained(true, kernel, grid, block, smem, stream, args...);
}

}  // namespace hh::cuda
