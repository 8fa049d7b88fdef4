#pragma once
// A deterministic stand-in for the engine, for protocol tests and the protocol fuzzer: a tiny
// model whose "generation" depends on every K/V entry written so far, so a cache that was lost,
// corrupted or restored wrongly changes the tokens that come out. No model file is needed:
// `load` accepts any path that does not end in ".missing".
#include <cmath>
#include <string>

#include "engine/backend.h"
#include "util/half.h"

namespace hh::testing {

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(ElemType dtype = ElemType::F32) : dtype_(dtype) {}

  // Shapes of the fake model: v=16 tokens, d=4, b=2 layers, h=2 heads, kvh=1, dh=2, f=4.
  static constexpr int64_t kVocab = 16, kDim = 4, kLayers = 2, kHeads = 2, kKvHeads = 1,
                           kHeadDim = 2, kFfn = 4;

  bool fail_next_run = false;  // the next gen/logits/sample throws after writing the cache
  int calls = 0;
  // The fuzzer keeps allocations small (libFuzzer treats a huge malloc as a crash).
  int64_t max_cache_elements = int64_t{1} << 40;

  std::string name() const override { return "fake"; }
  ElemType dtype() const override { return dtype_; }

  std::shared_ptr<Weights> load(const std::string& path) override {
    if (path.size() >= 8 && path.substr(path.size() - 8) == ".missing") {
      throw SystemError("cannot open '" + path + "': No such file or directory");
    }
    return adopt(make_weights(path.find("untied") != std::string::npos));
  }

  std::shared_ptr<Weights> adopt(Weights weights) override {
    if (weights.dtype != dtype_)
      fail_usage("weights are {}, server is {}", elem_name(weights.dtype), elem_name(dtype_));
    return std::make_shared<Weights>(std::move(weights));
  }

  std::shared_ptr<KVCache> init_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh) override {
    if (b > max_cache_elements / kvh / cs / dh) fail_usage("fake cache too large");
    return std::make_shared<KVCache>(make_host_kv_cache(b, kvh, cs, dh, dtype_));
  }

  std::shared_ptr<KVCache> adopt(KVCache cache) override {
    validate_kv_cache(cache);
    if (cache.dtype() != dtype_)
      fail_usage("cache is {}, server is {}", elem_name(cache.dtype()), elem_name(dtype_));
    return std::make_shared<KVCache>(std::move(cache));
  }

  std::vector<int64_t> gen(const Weights& w, KVCache& cache, int64_t xsat,
                           std::span<const int64_t> xs, int64_t eos, int64_t max_new) override {
    return run(w, cache, xsat, xs, eos, max_new, 0);
  }

  std::vector<int64_t> sample(const Weights& w, KVCache& cache, int64_t xsat,
                              std::span<const int64_t> xs, int64_t eos, int64_t max_new,
                              const SamplingParams& sp) override {
    return run(w, cache, xsat, xs, eos, max_new, sp.temperature == 0 ? 0 : sp.seed + 1);
  }

  Array logits(const Weights& w, KVCache& cache, int64_t xsat,
               std::span<const int64_t> xs) override {
    ++calls;
    Array out =
        Array::allocate(ElemType::F32, {static_cast<int64_t>(xs.size()), w.config.vocab_size});
    for (size_t t = 0; t < xs.size(); ++t) {
      write(cache, xsat + static_cast<int64_t>(t), xs[t]);
      const int64_t h = history(cache, xsat + static_cast<int64_t>(t) + 1);
      for (int64_t j = 0; j < w.config.vocab_size; ++j) {
        out.data<float>()[t * w.config.vocab_size + j] = static_cast<float>((h + j * 7) % 23);
      }
    }
    maybe_fail();
    return out;
  }

  // Every tensor filled with a pattern, so stored and restored Params can be compared.
  Weights make_weights(bool untied) const {
    Weights w;
    w.dtype = dtype_;
    w.config =
        ModelConfig{kVocab, kDim, kLayers, kHeads, kKvHeads, kHeadDim, kFfn, 1e6f, 1e-6f, !untied};
    float seed = 0;
    auto tensor = [&](ElemType t, Shape s) {
      Array a = Array::allocate(t, std::move(s));
      for (int64_t i = 0; i < a.count(); ++i) put(a, i, std::sin(seed + static_cast<float>(i)));
      seed += 1;
      return a;
    };
    w.token_embd = tensor(dtype_, {kVocab, kDim});
    w.output_norm = tensor(ElemType::F32, {kDim});
    w.output = untied ? tensor(dtype_, {kVocab, kDim}) : w.token_embd;
    for (int64_t l = 0; l < kLayers; ++l) {
      LayerWeights lw;
      lw.attn_norm = tensor(ElemType::F32, {kDim});
      lw.attn_q = tensor(dtype_, {kHeads * kHeadDim, kDim});
      lw.attn_k = tensor(dtype_, {kKvHeads * kHeadDim, kDim});
      lw.attn_v = tensor(dtype_, {kKvHeads * kHeadDim, kDim});
      lw.attn_output = tensor(dtype_, {kDim, kHeads * kHeadDim});
      lw.attn_q_norm = tensor(ElemType::F32, {kHeadDim});
      lw.attn_k_norm = tensor(ElemType::F32, {kHeadDim});
      lw.ffn_norm = tensor(ElemType::F32, {kDim});
      lw.ffn_gate = tensor(dtype_, {kFfn, kDim});
      lw.ffn_up = tensor(dtype_, {kFfn, kDim});
      lw.ffn_down = tensor(dtype_, {kDim, kFfn});
      w.layers.push_back(std::move(lw));
    }
    return w;
  }

 private:
  static void put(Array& a, int64_t i, float v) {
    switch (a.type()) {
      case ElemType::F16:
        a.data<uint16_t>()[i] = f32_to_f16(v);
        break;
      case ElemType::BF16:
        a.data<uint16_t>()[i] = f32_to_bf16(v);
        break;
      default:
        a.data<float>()[i] = v;
        break;
    }
  }
  static float get(const Array& a, int64_t i) {
    switch (a.type()) {
      case ElemType::F16:
        return f16_to_f32(a.data<uint16_t>()[i]);
      case ElemType::BF16:
        return bf16_to_f32(a.data<uint16_t>()[i]);
      default:
        return a.data<float>()[i];
    }
  }
  // K and V of position `pos` in every layer and head hold the token (V its double).
  static void write(KVCache& c, int64_t pos, int64_t token) {
    for (int64_t l = 0; l < c.n_layers(); ++l) {
      for (int64_t h = 0; h < c.n_kv_heads(); ++h) {
        for (int64_t e = 0; e < c.head_dim(); ++e) {
          const int64_t i = ((l * c.n_kv_heads() + h) * c.context() + pos) * c.head_dim() + e;
          put(c.k, i, static_cast<float>(token));
          put(c.v, i, static_cast<float>(2 * token));
        }
      }
    }
  }
  // A hash of positions [0, n) of the last layer's keys and values.
  static int64_t history(const KVCache& c, int64_t n) {
    int64_t h = 0;
    const int64_t base = (c.n_layers() - 1) * c.n_kv_heads() * c.context() * c.head_dim();
    for (int64_t p = 0; p < n; ++p) {
      const int64_t i = base + p * c.head_dim();
      h = (h * 31 + static_cast<int64_t>(get(c.k, i)) + static_cast<int64_t>(get(c.v, i)) + p) %
          1000003;
    }
    return h;
  }
  void maybe_fail() {
    if (fail_next_run) {
      fail_next_run = false;
      fail_usage("fake engine failure");
    }
  }
  std::vector<int64_t> run(const Weights& w, KVCache& cache, int64_t xsat,
                           std::span<const int64_t> xs, int64_t eos, int64_t max_new,
                           uint64_t salt) {
    ++calls;
    int64_t pos = xsat;
    for (int64_t t : xs) write(cache, pos++, t);
    maybe_fail();
    std::vector<int64_t> out;
    while (static_cast<int64_t>(out.size()) < max_new) {
      const int64_t token =
          static_cast<int64_t>((static_cast<uint64_t>(history(cache, pos)) + salt) %
                               static_cast<uint64_t>(w.config.vocab_size));
      out.push_back(token);
      if (token == eos || pos >= cache.context()) break;
      write(cache, pos++, token);
    }
    return out;
  }

  ElemType dtype_;
};

}  // namespace hh::testing
