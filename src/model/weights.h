#pragma once
// Qwen3 model description: the config (all derivable from tensor shapes) and the weights as a
// struct of per-layer tensors (calm's layout). Tensors are Arrays: they may point into an
// mmap'ed GGUF file, into a restored data file, or into device memory; matrices are in the
// model dtype E (f32, f16 or bf16, "as stored"), norm weights are always f32.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "values/array.h"

namespace hh {

struct ModelConfig {
  int64_t vocab_size = 0;  // v
  int64_t dim = 0;         // d, the residual width
  int64_t n_layers = 0;    // b, transformer blocks
  int64_t n_heads = 0;     // h, query heads
  int64_t n_kv_heads = 0;  // kvh, key/value heads (grouped-query attention)
  int64_t head_dim = 0;    // dh; Qwen3 allows h*dh != d
  int64_t ffn_dim = 0;     // f, SwiGLU hidden width
  float rope_theta = 1e6f;
  float rms_eps = 1e-6f;
  bool tied_output = true;  // output projection shares token_embd
};

struct LayerWeights {
  Array attn_norm;    // (d) f32
  Array attn_q;       // (h*dh, d) E
  Array attn_k;       // (kvh*dh, d) E
  Array attn_v;       // (kvh*dh, d) E
  Array attn_output;  // (d, h*dh) E
  Array attn_q_norm;  // (dh) f32
  Array attn_k_norm;  // (dh) f32
  Array ffn_norm;     // (d) f32
  Array ffn_gate;     // (f, d) E
  Array ffn_up;       // (f, d) E
  Array ffn_down;     // (d, f) E
};

struct Weights {
  ElemType dtype = ElemType::F32;  // E
  ModelConfig config;
  Array token_embd;   // (v, d) E
  Array output_norm;  // (d) f32
  Array output;       // (v, d) E; the same view as token_embd when config.tied_output
  std::vector<LayerWeights> layers;

  // Bytes of all distinct tensors (a tied output counted once): what decode reads per token.
  size_t weight_bytes() const;
};

// The Params record's fields, in protocol order (DESIGN.md): token_embd, output_norm, output,
// attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm, attn_k_norm, ffn_norm,
// ffn_gate, ffn_up, ffn_down, rope_theta, rms_eps.
const std::vector<std::string>& params_field_names();
// Protocol type of a field for model dtype E, e.g. "[][][]f16" for attn_q, "f32" for rms_eps.
std::string params_field_type(std::string_view field, ElemType dtype);

// Shape of one tensor of a Params field under `config`: one layer's for per-layer fields (so
// attn_q is (h*dh, d)), {} for the scalars. UsageError for an unknown field.
Shape params_tensor_shape(std::string_view field, const ModelConfig& config);
// One Params field as a single array: per-layer fields are stacked to (b, ...). Views the
// existing bytes when the layers are already contiguous, else copies into one host array.
Array params_field(const Weights& weights, std::string_view field);
// Builds Weights from the fields in params_field_names() order (per-layer tensors become views
// of the stacked arrays: no copy). Checks every type and shape and derives the config; throws
// UsageError naming the field on any mismatch.
Weights weights_from_fields(std::span<const Array> fields, ElemType dtype);
// Checks the config alone: positive sizes, even head_dim (RoPE pairs), n_heads a multiple of
// n_kv_heads, finite positive rope_theta, finite non-negative rms_eps; UsageError naming the field.
void validate_config(const ModelConfig& config);
// Checks every tensor's dtype and shape against weights.config; throws UsageError naming the
// tensor on a mismatch.
void validate_weights(const Weights& weights);

}  // namespace hh
