#include "model/random_model.h"

#include <algorithm>
#include <cmath>

#include "model/convert.h"
#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

uint64_t mix64(uint64_t z) {  // splitmix64's finaliser: a bijection with good avalanche
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

enum class Kind { Matrix, Norm };

struct Planned {
  std::string name;
  Shape shape;  // row-major (out, in); written to GGUF reversed
  Kind kind;
};

// out = offset + scale * noise, as `type`, computed in blocks of f32 then stored.
void fill_tensor(std::byte* out, ElemType type, int64_t count, uint64_t key, float scale,
                 float offset) {
  encode_blocks(type, out, count, [&](int64_t first, int64_t n, float* staging) {
    for (int64_t j = 0; j < n; ++j) {
      // Kept as two roundings (no FMA contraction) so every build writes the same file.
      const float scaled = scale * random_normal(key, static_cast<uint64_t>(first + j));
      staging[j] = scaled + offset;
    }
  });
}

// llama.cpp's LLAMA_FTYPE numbers: ALL_F32, MOSTLY_F16, MOSTLY_BF16.
uint32_t file_type_of(ElemType type) {
  return type == ElemType::F32 ? 0 : type == ElemType::F16 ? 1 : 32;
}

}  // namespace

ModelConfig model_preset(std::string_view name) {
  ModelConfig c;
  c.vocab_size = 151936;
  c.rope_theta = 1e6f;
  c.rms_eps = 1e-6f;
  c.tied_output = true;
  c.head_dim = 128;
  c.n_kv_heads = 8;
  if (name == "tiny") {
    c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 32, c.ffn_dim = 128;
  } else if (name == "0.6b") {
    c.dim = 1024, c.n_layers = 28, c.n_heads = 16, c.ffn_dim = 3072;
  } else if (name == "1.7b") {
    c.dim = 2048, c.n_layers = 28, c.n_heads = 16, c.ffn_dim = 6144;
  } else if (name == "4b") {
    c.dim = 2560, c.n_layers = 36, c.n_heads = 32, c.ffn_dim = 9728;
  } else {
    fail_usage("unknown preset '{}': expected tiny, 0.6b, 1.7b or 4b", name);
  }
  return c;
}

uint64_t random_stream_key(uint64_t seed, std::string_view tensor_name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name
  for (char ch : tensor_name) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
  return mix64(mix64(seed) ^ h);
}

float random_normal(uint64_t key, uint64_t index) {
  const uint64_t r = mix64(key + index * 0x9e3779b97f4a7c15ull);
  // Four 16-bit uniforms: mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12.
  const auto sum =
      static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
  constexpr float kMean = 131070.0f;
  constexpr float kInvStd = 1.0f / 37837.2265f;  // 1 / sqrt(4 * (65536^2 - 1) / 12)
  return (sum - kMean) * kInvStd;
}

void add_random_qwen3(GgufWriter& w, const RandomModelOptions& o) {
  const ModelConfig& c = o.config;
  validate_config(c);
  const GgmlType mat_type = ggml_type_of(o.dtype);

  w.add("general.architecture", gguf_string("qwen3"));
  w.add("general.type", gguf_string("model"));
  w.add("general.name", gguf_string(o.name));
  if (!o.size_label.empty()) w.add("general.size_label", gguf_string(o.size_label));
  w.add("general.description",
        gguf_string(
            fmt::format("random weights (seed {}, std {}); not a trained model", o.seed, o.std)));
  auto u32 = [](int64_t v) { return gguf_u32(static_cast<uint32_t>(v)); };
  w.add("qwen3.block_count", u32(c.n_layers));
  w.add("qwen3.context_length", u32(40960));  // Qwen3's max_position_embeddings
  w.add("qwen3.embedding_length", u32(c.dim));
  w.add("qwen3.feed_forward_length", u32(c.ffn_dim));
  w.add("qwen3.attention.head_count", u32(c.n_heads));
  w.add("qwen3.attention.head_count_kv", u32(c.n_kv_heads));
  w.add("qwen3.rope.freq_base", gguf_f32(c.rope_theta));
  w.add("qwen3.attention.layer_norm_rms_epsilon", gguf_f32(c.rms_eps));
  w.add("qwen3.attention.key_length", u32(c.head_dim));
  w.add("qwen3.attention.value_length", u32(c.head_dim));
  w.add("general.file_type", gguf_u32(file_type_of(o.dtype)));
  w.add("general.quantization_version", gguf_u32(2));

  // The order of llama.cpp's converter: embedding, blocks, final norm, output.
  const int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  std::vector<Planned> plan;
  plan.push_back({"token_embd.weight", {c.vocab_size, c.dim}, Kind::Matrix});
  for (int64_t b = 0; b < c.n_layers; ++b) {
    auto n = [b](const char* what) { return fmt::format("blk.{}.{}.weight", b, what); };
    plan.push_back({n("attn_norm"), {c.dim}, Kind::Norm});
    plan.push_back({n("attn_q"), {q, c.dim}, Kind::Matrix});
    plan.push_back({n("attn_k"), {kv, c.dim}, Kind::Matrix});
    plan.push_back({n("attn_v"), {kv, c.dim}, Kind::Matrix});
    plan.push_back({n("attn_output"), {c.dim, q}, Kind::Matrix});
    plan.push_back({n("attn_q_norm"), {c.head_dim}, Kind::Norm});
    plan.push_back({n("attn_k_norm"), {c.head_dim}, Kind::Norm});
    plan.push_back({n("ffn_norm"), {c.dim}, Kind::Norm});
    plan.push_back({n("ffn_gate"), {c.ffn_dim, c.dim}, Kind::Matrix});
    plan.push_back({n("ffn_up"), {c.ffn_dim, c.dim}, Kind::Matrix});
    plan.push_back({n("ffn_down"), {c.dim, c.ffn_dim}, Kind::Matrix});
  }
  plan.push_back({"output_norm.weight", {c.dim}, Kind::Norm});
  if (!c.tied_output) plan.push_back({"output.weight", {c.vocab_size, c.dim}, Kind::Matrix});

  for (const auto& t : plan) {
    const bool norm = t.kind == Kind::Norm;
    const ElemType type = norm ? ElemType::F32 : o.dtype;
    const int64_t count = shape_count(t.shape);
    const uint64_t key = random_stream_key(o.seed, t.name);
    const float scale = norm ? o.norm_noise : o.std;
    const float offset = norm ? 1.0f : 0.0f;
    w.add_tensor(t.name, std::vector<int64_t>(t.shape.rbegin(), t.shape.rend()),
                 norm ? GgmlType::F32 : mat_type,
                 [=](std::byte* out) { fill_tensor(out, type, count, key, scale, offset); });
  }
}

}  // namespace hh
