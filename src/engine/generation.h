#pragma once
// gen, sample and logits (DESIGN.md's semantics) written once, in terms of one forward pass of
// T tokens that a backend provides; the checks on tokens, positions and the cache live here
// too, so every backend fails the same way on the same bad input.
#include "engine/backend.h"

namespace hh {

// The checks every backend makes before gen, sample or logits: throws UsageError unless the
// weights are of `backend`'s dtype with a config the forward pass runs, the cache matches the
// model (b, kvh, dh, dtype), xsat >= 0, xsat + T <= cs, and every token id is in [0, v).
void check_call(const Backend& backend, const Weights& w, const KVCache& cache, int64_t xsat,
                std::span<const int64_t> xs);

class ForwardBackend : public Backend {
 public:
  explicit ForwardBackend(const EngineOptions& options) : options_(options) {}
  ElemType dtype() const override { return options_.dtype; }

  std::vector<int64_t> gen(const Weights& w, KVCache& cache, int64_t xsat,
                           std::span<const int64_t> xs, int64_t eos_token_id,
                           int64_t max_new_tokens) final;
  std::vector<int64_t> sample(const Weights& w, KVCache& cache, int64_t xsat,
                              std::span<const int64_t> xs, int64_t eos_token_id,
                              int64_t max_new_tokens, const SamplingParams& sampling) final;
  Array logits(const Weights& w, KVCache& cache, int64_t xsat, std::span<const int64_t> xs) final;

 protected:
  // Runs `tokens` at positions pos.. through the model (their keys and values go into the
  // cache) and writes the f32 logits of the last n_out positions to host memory `logits`
  // (n_out, v); n_out = 0 only prefills. Inputs have been checked.
  virtual void forward(const Weights& w, KVCache& cache, int64_t pos,
                       std::span<const int64_t> tokens, int64_t n_out, float* logits) = 0;

  EngineOptions options_;

 private:
  template <typename Pick>
  std::vector<int64_t> generate(const Weights& w, KVCache& cache, int64_t xsat,
                                std::span<const int64_t> xs, int64_t eos_token_id,
                                int64_t max_new_tokens, Pick&& pick);

  std::vector<float> step_logits_;  // (v) logits of the last position, reused every step
};

}  // namespace hh
