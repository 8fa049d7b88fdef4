#pragma once
// A Hugging Face Qwen3 model directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Tensors are found by their Hugging Face names; the data stays
// in the mappings.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/convert.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace hh {

// Reads config.json (model_type must be "qwen3"). head_dim defaults to hidden/heads,
// num_key_value_heads to num_attention_heads, as in transformers' Qwen3Config.
ModelConfig read_hf_config(const std::string& config_json_path);

class HfModel {
 public:
  // Throws FormatError naming the file when config.json or the weights are missing or bad.
  static HfModel open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  // The tensor called `name` (e.g. "model.norm.weight"), or nullopt when no file holds it.
  std::optional<StoredTensor> find(std::string_view name) const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<SafetensorsFile> files_;
  // Sharded models: tensor name -> index into files_ (empty for a single model.safetensors).
  std::unordered_map<std::string, size_t> weight_map_;
};

}  // namespace hh
