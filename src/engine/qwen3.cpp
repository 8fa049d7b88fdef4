#include "engine/qwen3.h"

#include <cmath>

namespace hh {

std::vector<double> rope_inv_freq(float theta, int64_t dh) {
  std::vector<double> f(static_cast<size_t>(dh / 2));
  for (int64_t i = 0; i < dh / 2; ++i) {
    f[static_cast<size_t>(i)] = std::pow(static_cast<double>(theta),
                                         -2.0 * static_cast<double>(i) / static_cast<double>(dh));
  }
  return f;
}

namespace {

// One transformer block on the residual stream a.x (T, d), pre-norm as in Qwen3:
// x += Wo · attention(rope(norm(Wq·norm(x))), rope(norm(Wk·norm(x))), Wv·norm(x))
// x += Wdown · (silu(Wgate·norm(x)) * (Wup·norm(x)))
void transformer_layer(Qwen3Ops& ops, const ModelConfig& c, const LayerWeights& lw, int64_t layer,
                       KVCache& cache, int64_t pos, int64_t T, Qwen3Activations& a) {
  const int64_t d = c.dim, h = c.n_heads, kvh = c.n_kv_heads, dh = c.head_dim;

  ops.rms_norm(a.x, lw.attn_norm, c.rms_eps, T, d, a.xn);
  ops.matmul(a.xn, T, lw.attn_q, a.q);  // (T, h*dh)
  ops.matmul(a.xn, T, lw.attn_k, a.k);  // (T, kvh*dh)
  ops.matmul(a.xn, T, lw.attn_v, a.v);  // (T, kvh*dh)
  // Qwen3 normalises each query and key head before the rotation.
  ops.rms_norm(a.q, lw.attn_q_norm, c.rms_eps, T * h, dh, a.q);
  ops.rms_norm(a.k, lw.attn_k_norm, c.rms_eps, T * kvh, dh, a.k);
  ops.rope(a.q, T, h, dh, pos, c.rope_theta);
  ops.rope(a.k, T, kvh, dh, pos, c.rope_theta);
  ops.store_kv(a.k, a.v, cache, layer, pos, T);
  ops.attention(a.q, cache, layer, pos, T, h, a.att);  // (T, h*dh)
  ops.matmul(a.att, T, lw.attn_output, a.xn);          // (T, d)
  ops.add(a.x, a.xn, T * d);

  ops.rms_norm(a.x, lw.ffn_norm, c.rms_eps, T, d, a.xn);
  ops.matmul(a.xn, T, lw.ffn_gate, a.gate);  // (T, f)
  ops.matmul(a.xn, T, lw.ffn_up, a.up);      // (T, f)
  ops.swiglu(a.gate, a.up, T * c.ffn_dim, a.gate);
  ops.matmul(a.gate, T, lw.ffn_down, a.xn);  // (T, d)
  ops.add(a.x, a.xn, T * d);
}

}  // namespace

void qwen3_forward(Qwen3Ops& ops, const Weights& w, KVCache& cache, int64_t pos,
                   std::span<const int64_t> tokens, int64_t n_out, Qwen3Activations& a,
                   float* logits) {
  const ModelConfig& c = w.config;
  const auto T = static_cast<int64_t>(tokens.size());
  ops.embed(w.token_embd, tokens, a.x);  // (T, d)
  for (int64_t l = 0; l < c.n_layers; ++l) {
    transformer_layer(ops, c, w.layers[static_cast<size_t>(l)], l, cache, pos, T, a);
  }
  if (n_out == 0) return;
  // Only the positions whose logits are wanted go through the final norm and the (large)
  // output projection.
  const float* last = a.x + (T - n_out) * c.dim;
  ops.rms_norm(last, w.output_norm, c.rms_eps, n_out, c.dim, a.xn);
  ops.matmul(a.xn, n_out, w.output, logits);  // (n_out, v)
}

}  // namespace hh
