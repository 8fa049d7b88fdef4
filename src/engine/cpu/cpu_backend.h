#pragma once
// The CPU backend: host weights used as stored (mmap'ed GGUF or restored files, no copy), the
// KV cache in host memory, and CpuOps running the shared Qwen3 forward pass.
#include "engine/cpu/cpu_ops.h"
#include "engine/generation.h"

namespace hh {

class CpuBackend final : public ForwardBackend {
 public:
  // Uses the fastest kernels this CPU runs.
  explicit CpuBackend(const EngineOptions& options);
  // Uses the given kernel table (tests compare the portable and SIMD paths).
  CpuBackend(const EngineOptions& options, const cpu::KernelTable& kernels);

  std::string name() const override { return "cpu"; }
  const char* kernels_name() const { return ops_.kernels().name; }
  int threads() const { return ops_.threads(); }

  std::shared_ptr<Weights> load(const std::string& path) override;
  std::shared_ptr<Weights> adopt(Weights weights) override;
  std::shared_ptr<KVCache> init_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh) override;
  std::shared_ptr<KVCache> adopt(KVCache cache) override;

 protected:
  void forward(const Weights& w, KVCache& cache, int64_t pos, std::span<const int64_t> tokens,
               int64_t n_out, float* logits) override;

 private:
  // Grows the activation buffers to T tokens of this model (never shrinks: decode reuses them).
  Qwen3Activations& activations(const ModelConfig& c, int64_t T);

  cpu::CpuOps ops_;
  std::vector<float> buffer_;  // every activation of Qwen3Activations, one after another
  Qwen3Activations act_;
};

}  // namespace hh
