#pragma once
// Picking the next token from a row of logits: greedy (argmax) and sampling with temperature,
// top-k and top-p. Sampling is a pure function of (logits, params, step): the random number of
// step i comes from a counter-based generator keyed by (seed, i), so results do not depend on
// threads or on earlier calls.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/backend.h"

namespace hh {

// Index of the largest logit, the first one on ties; NaNs never win (all NaN gives 0).
int64_t argmax(std::span<const float> logits);

// Uniform double in [0, 1) for (seed, step).
double uniform_random(uint64_t seed, uint64_t step);

class Sampler {
 public:
  // Throws UsageError for a negative or NaN temperature, a negative top_k, or top_p outside
  // (0, 1].
  explicit Sampler(const SamplingParams& params);

  // Temperature 0 is argmax. Otherwise: logits / temperature, keep the top_k largest (0 = all),
  // then the smallest set of the most likely whose probability reaches top_p, and draw from
  // what is left, renormalised. Ties are ordered by token id. Throws Error when the logits
  // give no finite distribution.
  int64_t pick(std::span<const float> logits, uint64_t step);

 private:
  SamplingParams p_;
  std::vector<int32_t> order_;  // (v) candidate token ids, most likely first
  std::vector<float> weight_;   // (v) exp((logit - max) / temperature) per token id
};

}  // namespace hh
