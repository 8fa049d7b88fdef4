#include "engine/backend.h"

#include "engine/cpu/cpu_backend.h"

namespace hh {

BackendKind parse_backend_kind(std::string_view name) {
  if (name == "cpu") return BackendKind::Cpu;
  if (name == "cuda") return BackendKind::Cuda;
  fail_usage("unknown backend '{}': expected cpu or cuda", name);
}

std::unique_ptr<Backend> make_backend(BackendKind kind, const EngineOptions& options) {
  switch (kind) {
    case BackendKind::Cpu:
      return std::make_unique<CpuBackend>(options);
    case BackendKind::Cuda:
#ifdef HH_HAVE_CUDA
      return make_cuda_backend(options);
#else
      break;
#endif
  }
  fail_usage("this hedgehog was built without the CUDA backend");
}

}  // namespace hh
