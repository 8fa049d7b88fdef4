#pragma once
// The engine's entry: one Backend (CPU or CUDA) is chosen once, at server start, and runs every
// entry point. The engine knows nothing of the protocol: it takes and returns Weights, KVCache
// and Arrays, and throws UsageError (with the offending value named) on bad input.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/profiler.h"
#include "model/weights.h"

namespace hh {

enum class BackendKind { Cpu, Cuda };
BackendKind parse_backend_kind(std::string_view name);  // "cpu" | "cuda"; UsageError otherwise

struct EngineOptions {
  ElemType dtype = ElemType::F32;  // E: weights and KV cache are held in this type
  int threads = 0;                 // CPU threads; 0 = all cores
  Profiler* profiler = nullptr;    // may be null; events are recorded while it is active
};

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // 0 = no top-k cut
  float top_p = 1.0f;        // 1 = no nucleus cut
  uint64_t seed = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda"
  virtual ElemType dtype() const = 0;

  // `load`: a GGUF file or a Hugging Face model directory, converted to dtype().
  virtual std::shared_ptr<Weights> load(const std::string& path) = 0;
  // Moves host-side weights (restored or built with `new`) to where this backend computes.
  virtual std::shared_ptr<Weights> adopt(Weights weights) = 0;
  // `init`: a zero cache of b layers, kvh heads, cs positions, dh head width.
  virtual std::shared_ptr<KVCache> init_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh) = 0;
  virtual std::shared_ptr<KVCache> adopt(KVCache cache) = 0;
  // A host-visible copy of an array this backend holds in device memory (the server's `store`,
  // `project` and entry-point outputs); host and mapped arrays come back as they are (a view).
  virtual Array to_host(const Array& array) { return array; }

  // `gen` (DESIGN.md): prefill xs at positions xsat.., then greedy decode until eos (included),
  // max_new_tokens, or a full cache. The cache is updated in place.
  virtual std::vector<int64_t> gen(const Weights& w, KVCache& cache, int64_t xsat,
                                   std::span<const int64_t> xs, int64_t eos_token_id,
                                   int64_t max_new_tokens) = 0;
  // `sample`: as gen, but tokens are drawn with `sampling` (temperature 0 = gen).
  virtual std::vector<int64_t> sample(const Weights& w, KVCache& cache, int64_t xsat,
                                      std::span<const int64_t> xs, int64_t eos_token_id,
                                      int64_t max_new_tokens, const SamplingParams& sampling) = 0;
  // `logits`: f32 logits (T, v) for every position of xs; the cache is updated in place.
  virtual Array logits(const Weights& w, KVCache& cache, int64_t xsat,
                       std::span<const int64_t> xs) = 0;
};

// Throws UsageError with the reason when the backend is unavailable (no GPU, no CUDA build).
std::unique_ptr<Backend> make_backend(BackendKind kind, const EngineOptions& options);

#ifdef HH_HAVE_CUDA
// Defined in src/engine/cuda/ (built only with HH_CUDA); make_backend calls it for Cuda.
// Throws UsageError naming the cause when no usable GPU or driver is present.
std::unique_ptr<Backend> make_cuda_backend(const EngineOptions& options);
#endif

}  // namespace hh
