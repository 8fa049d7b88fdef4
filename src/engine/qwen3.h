#pragma once
// The Qwen3 forward pass, written once for every backend: the model reads top to bottom here,
// while a backend supplies the ops (Qwen3Ops) and the scratch activations in the memory it
// computes in (host for the CPU, device for CUDA). Shapes: T tokens, d = dim, h heads of width
// dh, kvh key/value heads, f = ffn width, v = vocabulary; all activations are f32, row-major.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/kv_cache.h"
#include "model/weights.h"

namespace hh {

// Scratch of one forward call of T tokens.
struct Qwen3Activations {
  float* x = nullptr;     // (T, d) residual stream
  float* xn = nullptr;    // (T, d) normalised block input; also a block's output before the add
  float* q = nullptr;     // (T, h*dh) queries
  float* k = nullptr;     // (T, kvh*dh) keys of the new positions
  float* v = nullptr;     // (T, kvh*dh) values of the new positions
  float* att = nullptr;   // (T, h*dh) attention output, heads side by side
  float* gate = nullptr;  // (T, f) SwiGLU gate, then silu(gate) * up
  float* up = nullptr;    // (T, f) SwiGLU up projection
};

// What a backend computes with. Weight arguments are the model's tensors (in E, or f32 for norm
// weights) in the backend's memory; float pointers are activations in the same memory.
class Qwen3Ops {
 public:
  virtual ~Qwen3Ops() = default;
  // out (T, d) = rows tokens[t] of table (v, d).
  virtual void embed(const Array& table, std::span<const int64_t> tokens, float* out) = 0;
  // Each of `rows` rows of x (rows, n): out = x * weight / sqrt(mean(x^2) + eps). out may be x.
  virtual void rms_norm(const float* x, const Array& weight, float eps, int64_t rows, int64_t n,
                        float* out) = 0;
  // y (T, rows of w) = x (T, cols of w) times w (rows, cols) transposed.
  virtual void matmul(const float* x, int64_t T, const Array& w, float* y) = 0;
  // RoPE (NeoX layout) of x (T, heads, dh) in place; token t is at position pos + t.
  virtual void rope(float* x, int64_t T, int64_t heads, int64_t dh, int64_t pos, float theta) = 0;
  // Writes k, v (T, kvh*dh) into the cache of `layer` at positions pos..pos+T-1, in the cache's
  // dtype.
  virtual void store_kv(const float* k, const float* v, KVCache& cache, int64_t layer, int64_t pos,
                        int64_t T) = 0;
  // Causal grouped-query attention: out (T, h*dh) for queries q (T, h*dh) at positions pos + t,
  // over the cache of `layer` at positions [0, pos + t]; query head j reads kv head j/(h/kvh).
  virtual void attention(const float* q, const KVCache& cache, int64_t layer, int64_t pos,
                         int64_t T, int64_t heads, float* out) = 0;
  // out (n) = silu(gate) * up; out may be gate.
  virtual void swiglu(const float* gate, const float* up, int64_t n, float* out) = 0;
  // x (n) += y (n): the residual connection.
  virtual void add(float* x, const float* y, int64_t n) = 0;
};

// RoPE's inverse frequencies theta^(-2i/dh), i < dh/2, in double, as every backend rotates with
// them: the angle pos * f is taken in double too (at positions in the tens of thousands an f32
// product is already off in the fourth digit).
std::vector<double> rope_inv_freq(float theta, int64_t dh);

// Runs `tokens` at positions pos..pos+T-1, writing their keys and values into the cache, and
// leaves the logits of the last n_out positions in `logits` (n_out, v); n_out = 0 is a prefill
// only. The caller has checked the config (validate_config), tokens, positions and the cache
// against the model.
void qwen3_forward(Qwen3Ops& ops, const Weights& w, KVCache& cache, int64_t pos,
                   std::span<const int64_t> tokens, int64_t n_out, Qwen3Activations& a,
                   float* logits);

}  // namespace hh
