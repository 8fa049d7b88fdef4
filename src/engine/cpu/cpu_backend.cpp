#include "engine/cpu/cpu_backend.h"

#include "model/loader.h"

namespace hh {

CpuBackend::CpuBackend(const EngineOptions& options) : CpuBackend(options, cpu::best_kernels()) {}

CpuBackend::CpuBackend(const EngineOptions& options, const cpu::KernelTable& kernels)
    : ForwardBackend(options), ops_(kernels, options.threads, options.profiler) {
  if (!is_model_dtype(options.dtype)) {
    fail_usage("the CPU backend computes in f32, f16 or bf16, not {}", elem_name(options.dtype));
  }
}

std::shared_ptr<Weights> CpuBackend::load(const std::string& path) {
  return adopt(load_model(path, dtype()));
}

std::shared_ptr<Weights> CpuBackend::adopt(Weights weights) {
  if (weights.dtype != dtype()) {
    fail_usage("weights are {} but this server's dtype is {}", elem_name(weights.dtype),
               elem_name(dtype()));
  }
  validate_weights(weights);
  // Host weights are used where they are (an mmap'ed file or a restored data file): only a
  // tensor in device memory would need moving, and the CPU cannot read that.
  const auto on_device = [](const Array& a) {
    return a.valid() && a.space() == MemorySpace::Device;
  };
  bool device =
      on_device(weights.token_embd) || on_device(weights.output) || on_device(weights.output_norm);
  for (const LayerWeights& l : weights.layers) {
    for (const Array* a :
         {&l.attn_norm, &l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.attn_q_norm,
          &l.attn_k_norm, &l.ffn_norm, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      device = device || on_device(*a);
    }
  }
  if (device) fail_usage("the CPU backend cannot use weights held in device memory");
  return std::make_shared<Weights>(std::move(weights));
}

std::shared_ptr<KVCache> CpuBackend::init_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh) {
  return std::make_shared<KVCache>(make_host_kv_cache(b, kvh, cs, dh, dtype()));
}

std::shared_ptr<KVCache> CpuBackend::adopt(KVCache cache) {
  validate_kv_cache(cache);
  if (cache.dtype() != dtype()) {
    fail_usage("cache is {} but this server's dtype is {}", elem_name(cache.dtype()),
               elem_name(dtype()));
  }
  // The cache is written in place: a read-only mapping (or device memory) gets a host copy.
  for (Array* a : {&cache.k, &cache.v}) {
    if (a->space() == MemorySpace::Device) fail_usage("the CPU backend cannot use a device cache");
    if (!a->storage()->writable()) *a = a->clone();
  }
  return std::make_shared<KVCache>(std::move(cache));
}

Qwen3Activations& CpuBackend::activations(const ModelConfig& c, int64_t T) {
  const int64_t qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim;
  // Widths of x, xn, q, k, v, att, gate, up per token.
  const int64_t widths[] = {c.dim, c.dim, qd, kvd, kvd, qd, c.ffn_dim, c.ffn_dim};
  int64_t per_token = 0;
  for (int64_t wd : widths) per_token += wd;
  const auto need = static_cast<size_t>(per_token * T);
  if (buffer_.size() < need) buffer_.resize(need);
  float* p = buffer_.data();
  float** slots[] = {&act_.x, &act_.xn, &act_.q, &act_.k, &act_.v, &act_.att, &act_.gate, &act_.up};
  for (size_t i = 0; i < 8; ++i) {
    *slots[i] = p;
    p += widths[i] * T;
  }
  return act_;
}

void CpuBackend::forward(const Weights& w, KVCache& cache, int64_t pos,
                         std::span<const int64_t> tokens, int64_t n_out, float* logits) {
  Qwen3Activations& a = activations(w.config, static_cast<int64_t>(tokens.size()));
  qwen3_forward(ops_, w, cache, pos, tokens, n_out, a, logits);
}

}  // namespace hh
