#include "engine/generation.h"

#include "engine/qwen3.h"
#include "engine/sampler.h"

namespace hh {

void check_call(const Backend& backend, const Weights& w, const KVCache& cache, int64_t xsat,
                std::span<const int64_t> xs) {
  const ModelConfig& c = w.config;
  if (w.dtype != backend.dtype()) {
    fail_usage("the weights are {} but this {} backend computes in {}", elem_name(w.dtype),
               backend.name(), elem_name(backend.dtype()));
  }
  validate_config(c);
  validate_kv_cache(cache);
  if (cache.dtype() != w.dtype || cache.n_layers() != c.n_layers ||
      cache.n_kv_heads() != c.n_kv_heads || cache.head_dim() != c.head_dim) {
    fail_usage(
        "cache [{}][{}][{}][{}]{} does not fit the model: need [{}][{}][cs][{}]{} (b, kvh, cs, dh)",
        cache.n_layers(), cache.n_kv_heads(), cache.context(), cache.head_dim(),
        elem_name(cache.dtype()), c.n_layers, c.n_kv_heads, c.head_dim, elem_name(w.dtype));
  }
  const auto T = static_cast<int64_t>(xs.size());
  if (xsat < 0) fail_usage("xsat is {}; positions start at 0", xsat);
  if (xsat > cache.context() || T > cache.context() - xsat) {
    fail_usage("xsat ({}) + {} tokens exceeds the cache context cs ({})", xsat, T, cache.context());
  }
  for (int64_t i = 0; i < T; ++i) {
    const int64_t id = xs[static_cast<size_t>(i)];
    if (id < 0 || id >= c.vocab_size) {
      fail_usage("xs[{}] = {} is not a token id: the vocabulary is [0, {})", i, id, c.vocab_size);
    }
  }
}

template <typename Pick>
std::vector<int64_t> ForwardBackend::generate(const Weights& w, KVCache& cache, int64_t xsat,
                                              std::span<const int64_t> xs, int64_t eos_token_id,
                                              int64_t max_new_tokens, Pick&& pick) {
  check_call(*this, w, cache, xsat, xs);
  if (xs.empty()) fail_usage("gen needs at least one prompt token in xs");
  std::vector<int64_t> out;
  // max_new_tokens <= 0 asks for no tokens, but the prompt still runs: DESIGN.md has gen write
  // the prompt's positions xsat..xsat+T-1 into the cache before anything is picked, so a caller
  // can prefill with it. Only the output projection is skipped.
  if (max_new_tokens <= 0) {
    forward(w, cache, xsat, xs, 0, nullptr);
    return out;
  }
  const int64_t v = w.config.vocab_size, cs = cache.context();
  step_logits_.resize(static_cast<size_t>(v));
  forward(w, cache, xsat, xs, 1, step_logits_.data());
  int64_t pos = xsat + static_cast<int64_t>(xs.size());  // next free cache position
  out.reserve(static_cast<size_t>(std::min(max_new_tokens, cs - pos + 1)));
  for (;;) {
    int64_t token;
    {
      ProfileScope scope(options_.profiler, cost::kSampling);
      token = pick(std::span<const float>(step_logits_), static_cast<uint64_t>(out.size()));
    }
    out.push_back(token);
    // The token just picked is returned but not yet in the cache: a full cache ends here, so
    // at most cs - (xsat + T) + 1 tokens come out.
    if (token == eos_token_id || static_cast<int64_t>(out.size()) >= max_new_tokens || pos >= cs) {
      break;
    }
    forward(w, cache, pos, std::span<const int64_t>(&out.back(), 1), 1, step_logits_.data());
    ++pos;
  }
  return out;
}

std::vector<int64_t> ForwardBackend::gen(const Weights& w, KVCache& cache, int64_t xsat,
                                         std::span<const int64_t> xs, int64_t eos_token_id,
                                         int64_t max_new_tokens) {
  return generate(w, cache, xsat, xs, eos_token_id, max_new_tokens,
                  [](std::span<const float> logits, uint64_t) { return argmax(logits); });
}

std::vector<int64_t> ForwardBackend::sample(const Weights& w, KVCache& cache, int64_t xsat,
                                            std::span<const int64_t> xs, int64_t eos_token_id,
                                            int64_t max_new_tokens,
                                            const SamplingParams& sampling) {
  Sampler sampler(sampling);  // checks the parameters before the cache is touched
  return generate(
      w, cache, xsat, xs, eos_token_id, max_new_tokens,
      [&](std::span<const float> logits, uint64_t step) { return sampler.pick(logits, step); });
}

Array ForwardBackend::logits(const Weights& w, KVCache& cache, int64_t xsat,
                             std::span<const int64_t> xs) {
  check_call(*this, w, cache, xsat, xs);
  const auto T = static_cast<int64_t>(xs.size());
  Array out = Array::allocate(ElemType::F32, {T, w.config.vocab_size}, /*zero=*/false);
  if (T > 0) forward(w, cache, xsat, xs, T, out.data<float>());
  return out;
}

}  // namespace hh
