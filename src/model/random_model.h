#pragma once
// Qwen3 models with random weights and real shapes (`hedgehog make-model`): stand-ins for speed
// measurements and tests when no trained weights are needed.
#include <cstdint>
#include <string>
#include <string_view>

#include "model/gguf.h"
#include "model/weights.h"

namespace hh {

// "tiny", "0.6b", "1.7b", "4b": Qwen3's published shapes (tiny: a 2-layer body with the real
// vocabulary, h*dh != d). Throws UsageError naming the preset otherwise.
ModelConfig model_preset(std::string_view name);

struct RandomModelOptions {
  ModelConfig config;
  ElemType dtype = ElemType::F16;  // of the matrices; norms are always f32
  uint64_t seed = 0;
  float std = 0.02f;         // of the matrices' entries
  float norm_noise = 0.02f;  // norm weights are 1 + norm_noise * noise
  std::string name = "Qwen3-random";
  std::string size_label;
};

// Adds Qwen3 metadata (general.*, qwen3.*) and every tensor to `writer`; the tensors are
// generated at write time, in parallel, from (seed, tensor name, element index) alone, so a
// seed gives identical files whatever the thread count, and the same values (rounded) for every
// dtype.
void add_random_qwen3(GgufWriter& writer, const RandomModelOptions& options);

// Deterministic approximately normal N(0, 1) noise (a sum of four uniforms: bounded at about
// 3.5 sigma) for element `index` of the stream `key`. Exposed for tests.
float random_normal(uint64_t key, uint64_t index);
uint64_t random_stream_key(uint64_t seed, std::string_view tensor_name);

}  // namespace hh
