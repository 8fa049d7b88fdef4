#pragma once
// Helpers of the CUDA tests: a skip where no GPU is present, and device buffers filled from and
// read back into host vectors. The tests compile only with HH_HAVE_CUDA.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/cuda/device_memory.h"

namespace hh::test {

inline bool gpu_present() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return count > 0;
}

#define HH_SKIP_WITHOUT_GPU() \
  if (!::hh::test::gpu_present()) GTEST_SKIP() << "no GPU on this machine"

// A device buffer holding `values`.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& values) : n_(values.size()) {
    storage_ = cuda::allocate_device(std::max<size_t>(1, n_) * sizeof(T), "test buffer");
    if (n_ > 0) {
      EXPECT_EQ(cudaMemcpy(storage_->data(), values.data(), n_ * sizeof(T), cudaMemcpyHostToDevice),
                cudaSuccess);
    }
  }
  explicit DeviceBuffer(size_t n, T fill = T{}) : DeviceBuffer(std::vector<T>(n, fill)) {}
  T* get() const { return reinterpret_cast<T*>(storage_->data()); }
  std::vector<T> read() const {
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    std::vector<T> out(n_);
    if (n_ > 0) {
      EXPECT_EQ(cudaMemcpy(out.data(), storage_->data(), n_ * sizeof(T), cudaMemcpyDeviceToHost),
                cudaSuccess);
    }
    return out;
  }

 private:
  size_t n_;
  std::shared_ptr<Storage> storage_;
};

}  // namespace hh::test
