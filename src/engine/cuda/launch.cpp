#include "engine/cuda/launch.cuh"

#include <array>
#include <atomic>
#include <cstdlib>
#include <string_view>

namespace hh::cuda {

bool chained_launch_enabled() {
  static const bool allowed = [] {
    const char* env = std::getenv("HH_CUDA_PDL");
    return env == nullptr || std::string_view(env) != "0";
  }();
  if (!allowed) return false;
  // Per device: 0 not yet known, 1 off, 2 on.
  static std::array<std::atomic<int>, 64> known{};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  if (device < 0 || device >= static_cast<int>(known.size())) return false;
  int state = known[static_cast<size_t>(device)].load(std::memory_order_relaxed);
  if (state == 0) {
    int major = 0;
    const bool ok =
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess;
    state = ok && major >= 9 ? 2 : 1;
    known[static_cast<size_t>(device)].store(state, std::memory_order_relaxed);
  }
  return state == 2;
}

}  // namespace hh::cuda
