#include "engine/cuda/launch.cuh"

#include <cstdlib>
#include <string_view>

namespace hh::cuda {

bool chained_launch_enabled() {
  static const bool allowed = [] {
    const char* env = std::getenv("HH_CUDA_PDL");
    return env == nullptr || std::string_view(env) != "0";
  }();
  // The device attribute is a cached driver query: cheap enough for every launch.
  int device = 0, major = 0;
  return allowed && cudaGetDevice(&device) == cudaSuccess &&
         cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
         major >= 9;
}

}  // namespace hh::cuda
