#pragma once
// The CPU backend's ops: each one a thread-parallel driver (OpenMP, `threads` threads) around
// the inner kernels of one KernelTable, timed under its cost centre. The methods are defined in
// the family files (matmul.cpp, norm.cpp, rope.cpp, attention.cpp, activation.cpp,
// embedding.cpp). Not thread-safe: one call at a time.
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/profiler.h"
#include "engine/qwen3.h"

namespace hh::cpu {

// Matrices of weights as the kernels see them; throws UsageError for a tensor that is not a
// host-visible rank-2 array of a model dtype.
MatView mat_view(const Array& w);

class CpuOps final : public Qwen3Ops {
 public:
  // threads <= 0: all cores (OpenMP's default team size).
  CpuOps(const KernelTable& kernels, int threads, Profiler* profiler);

  const KernelTable& kernels() const { return *k_; }
  int threads() const { return threads_; }

  void embed(const Array& table, std::span<const int64_t> tokens, float* out) override;
  void rms_norm(const float* x, const Array& weight, float eps, int64_t rows, int64_t n,
                float* out) override;
  void matmul(const float* x, int64_t T, const Array& w, float* y) override;
  void rope(float* x, int64_t T, int64_t heads, int64_t dh, int64_t pos, float theta) override;
  void store_kv(const float* k, const float* v, KVCache& cache, int64_t layer, int64_t pos,
                int64_t T) override;
  void attention(const float* q, const KVCache& cache, int64_t layer, int64_t pos, int64_t T,
                 int64_t heads, float* out) override;
  void swiglu(const float* gate, const float* up, int64_t n, float* out) override;
  void add(float* x, const float* y, int64_t n) override;

  // y (T, w.rows) = x (T, w.cols) · wᵀ without a cost centre (the op above adds it); the
  // benchmarks and tests call it directly.
  void matmul_view(const float* x, int64_t T, const MatView& w, float* y);

 private:
  // Scratch of thread `i`, at least n floats; grows only, so decode never allocates.
  float* thread_scratch(int i, size_t n);

  const KernelTable* k_;
  int threads_;
  Profiler* profiler_;
  std::vector<std::vector<float>> scratch_;  // per thread: weight tiles, attention scores

  // RoPE angles of the last call's positions, reused by every layer of a forward pass.
  std::vector<float> rope_cos_, rope_sin_;  // (T, dh/2)
  int64_t rope_pos_ = -1, rope_T_ = 0, rope_dh_ = 0;
  float rope_theta_ = 0.0f;
};

}  // namespace hh::cpu
