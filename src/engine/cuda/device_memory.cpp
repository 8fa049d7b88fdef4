#include "engine/cuda/device_memory.h"

#include <algorithm>
#include <cstring>

#include "engine/cuda/cuda_check.h"

namespace hh::cuda {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

class DeviceStorage final : public Storage {
 public:
  DeviceStorage(std::byte* data, size_t size) : Storage(data, size, MemorySpace::Device, true) {}
  // Destructors must not throw: a failed free (a context torn down at exit) is ignored.
  ~DeviceStorage() override {
    if (data_ != nullptr) cudaFree(data_);
  }
};

// Small copies go straight through pageable memory: staging would only add a memcpy.
constexpr size_t kDirectCopyBytes = size_t{1} << 20;

}  // namespace

std::shared_ptr<Storage> allocate_device(size_t bytes, std::string_view what) {
  void* p = nullptr;
  if (bytes > 0) {
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it so the next call starts clean
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      fail_usage(
          "out of GPU memory: {} needs {:.1f} MiB, but only {:.1f} MiB of {:.1f} MiB are free",
          what, static_cast<double>(bytes) / kMiB, static_cast<double>(free_bytes) / kMiB,
          static_cast<double>(total_bytes) / kMiB);
    }
    HH_CUDA_CHECK(status);
  }
  return std::make_shared<DeviceStorage>(static_cast<std::byte*>(p), bytes);
}

Array device_array(ElemType type, Shape shape, std::string_view what) {
  const auto bytes = static_cast<size_t>(shape_count(shape)) * elem_size(type);
  auto storage = allocate_device(bytes, what);
  if (bytes > 0) HH_CUDA_CHECK(cudaMemset(storage->data(), 0, bytes));
  return Array(type, std::move(shape), std::move(storage));
}

Copier::~Copier() {
  for (int i = 0; i < 2; ++i) {
    if (done_[i] != nullptr) cudaEventDestroy(done_[i]);
    if (staging_[i] != nullptr) {
      cudaFreeHost(staging_[i]);
      account_memory(MemorySpace::Host, -static_cast<int64_t>(kChunk));
    }
  }
}

void Copier::ensure_staging() {
  for (int i = 0; i < 2; ++i) {
    if (staging_[i] != nullptr) continue;
    const cudaError_t status = cudaHostAlloc(&staging_[i], kChunk, cudaHostAllocDefault);
    if (status != cudaSuccess) {
      cudaGetLastError();
      staging_[i] = nullptr;
      fail_usage("cannot pin {:.0f} MiB of host memory for copies to the GPU: {}",
                 static_cast<double>(kChunk) / kMiB, cudaGetErrorString(status));
    }
    account_memory(MemorySpace::Host, static_cast<int64_t>(kChunk));
    HH_CUDA_CHECK(cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming));
  }
}

void Copier::to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  ProfileScope scope(profiler_, cost::kCopyHostToDev);
  if (bytes <= kDirectCopyBytes) {
    HH_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    HH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  ensure_staging();
  auto* d = static_cast<std::byte*>(dst);
  const auto* s = static_cast<const std::byte*>(src);
  // The host copy into buffer i waits only for buffer i's previous transfer, so filling one
  // buffer overlaps the DMA of the other.
  for (size_t off = 0, i = 0; off < bytes; off += kChunk, i ^= 1) {
    const size_t n = std::min(kChunk, bytes - off);
    HH_CUDA_CHECK(cudaEventSynchronize(done_[i]));
    std::memcpy(staging_[i], s + off, n);
    HH_CUDA_CHECK(cudaMemcpyAsync(d + off, staging_[i], n, cudaMemcpyHostToDevice, stream_));
    HH_CUDA_CHECK(cudaEventRecord(done_[i], stream_));
  }
  HH_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void Copier::to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  ProfileScope scope(profiler_, cost::kCopyDevToHost);
  if (bytes <= kDirectCopyBytes) {
    HH_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    HH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  ensure_staging();
  auto* d = static_cast<std::byte*>(dst);
  const auto* s = static_cast<const std::byte*>(src);
  const size_t n_chunks = (bytes + kChunk - 1) / kChunk;
  auto issue = [&](size_t c) {
    const size_t off = c * kChunk, n = std::min(kChunk, bytes - off);
    HH_CUDA_CHECK(cudaMemcpyAsync(staging_[c & 1], s + off, n, cudaMemcpyDeviceToHost, stream_));
    HH_CUDA_CHECK(cudaEventRecord(done_[c & 1], stream_));
  };
  // Chunk c + 1 is on the bus while chunk c is copied out of its staging buffer.
  issue(0);
  for (size_t c = 0; c < n_chunks; ++c) {
    if (c + 1 < n_chunks) issue(c + 1);
    HH_CUDA_CHECK(cudaEventSynchronize(done_[c & 1]));
    const size_t off = c * kChunk;
    std::memcpy(d + off, staging_[c & 1], std::min(kChunk, bytes - off));
  }
}

Array Copier::upload(const Array& array, std::string_view what) {
  if (!array.valid() || array.space() == MemorySpace::Device) return array;
  Array out(array.type(), array.shape(), allocate_device(array.bytes(), what));
  to_device(out.raw(), array.raw(), array.bytes());
  return out;
}

Array Copier::download(const Array& array) {
  if (!array.valid() || array.space() != MemorySpace::Device) return array;
  Array out = Array::allocate(array.type(), array.shape(), /*zero=*/false);
  to_host(out.raw(), array.raw(), array.bytes());
  return out;
}

}  // namespace hh::cuda
