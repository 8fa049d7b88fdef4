// Element-wise ops: SwiGLU's silu(gate) * up and the residual add (both under the
// "activation" cost centre).
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "engine/cpu/cpu_ops.h"

namespace hh::cpu {

namespace {
// Below this many elements one thread is faster than waking the team.
constexpr int64_t kParallelElems = 1 << 15;
constexpr int64_t kChunk = 4096;
}  // namespace

namespace portable {
void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}
void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}
}  // namespace portable

void CpuOps::swiglu(const float* gate, const float* up, int64_t n, float* out) {
  ProfileScope scope(profiler_, cost::kActivation);
#pragma omp parallel for num_threads(threads_) schedule(static) if (n >= kParallelElems)
  for (int64_t i = 0; i < n; i += kChunk) {
    k_->swiglu(gate + i, up + i, std::min(kChunk, n - i), out + i);
  }
}

void CpuOps::add(float* x, const float* y, int64_t n) {
  ProfileScope scope(profiler_, cost::kActivation);
#pragma omp parallel for num_threads(threads_) schedule(static) if (n >= kParallelElems)
  for (int64_t i = 0; i < n; i += kChunk) k_->add(x + i, y + i, std::min(kChunk, n - i));
}

}  // namespace hh::cpu
