#include "engine/cpu/cpu_ops.h"

#include <cblas.h>
#include <omp.h>

namespace hh::cpu {

MatView mat_view(const Array& w) {
  if (!w.valid() || w.rank() != 2 || !is_model_dtype(w.type()) ||
      w.space() == MemorySpace::Device) {
    fail_usage("the CPU backend needs a host matrix of f32, f16 or bf16, got {}{}",
               w.valid() ? w.type_name() : "nothing",
               w.valid() && w.space() == MemorySpace::Device ? " in device memory" : "");
  }
  return MatView{w.type(), w.raw(), w.dim(0), w.dim(1)};
}

CpuOps::CpuOps(const KernelTable& kernels, int threads, Profiler* profiler)
    : k_(&kernels), threads_(threads > 0 ? threads : omp_get_max_threads()), profiler_(profiler) {
  // Parallelism comes from our OpenMP teams, each thread calling a single-threaded sgemm on its
  // own tile; OpenBLAS's own pool would oversubscribe the cores.
  openblas_set_num_threads(1);
  scratch_.resize(static_cast<size_t>(threads_));
}

float* CpuOps::thread_scratch(int i, size_t n) {
  auto& s = scratch_[static_cast<size_t>(i)];
  if (s.size() < n) s.resize(n);
  return s.data();
}

}  // namespace hh::cpu
