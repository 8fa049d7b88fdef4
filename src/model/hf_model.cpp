#include "model/hf_model.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/json_file.h"

namespace hh {
namespace {

namespace fs = std::filesystem;

int64_t positive_int(const nlohmann::json& config, const char* key, const std::string& path) {
  if (!config.contains(key)) fail_format("{}: '{}' is missing", path, key);
  const auto& v = config[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
    fail_format("{}: '{}' must be a positive integer, found {}", path, key, v.dump());
  }
  return v.get<int64_t>();
}

double number_or(const nlohmann::json& config, const char* key, double fallback,
                 const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_number()) {
    fail_format("{}: '{}' must be a number, found {}", path, key, config[key].dump());
  }
  return config[key].get<double>();
}

}  // namespace

ModelConfig read_hf_config(const std::string& path) {
  const nlohmann::json config = read_json_file(path);
  if (!config.is_object()) fail_format("{}: expected a JSON object", path);
  const auto model_type = config.value("model_type", nlohmann::json());
  if (model_type != "qwen3") {
    fail_format("{}: model_type is {}, only \"qwen3\" is supported", path, model_type.dump());
  }
  // Rope scaling (YaRN etc.) would change positions' frequencies; hedgehog implements plain RoPE.
  if (config.contains("rope_scaling") && !config["rope_scaling"].is_null()) {
    fail_format("{}: rope_scaling {} is not supported", path, config["rope_scaling"].dump());
  }
  // Both would change the forward pass (bias tensors, windowed attention) that hedgehog runs.
  for (const char* flag : {"attention_bias", "use_sliding_window"}) {
    if (config.contains(flag) && config[flag] == true) {
      fail_format("{}: {} = true is not supported", path, flag);
    }
  }
  ModelConfig c;
  c.vocab_size = positive_int(config, "vocab_size", path);
  c.dim = positive_int(config, "hidden_size", path);
  c.n_layers = positive_int(config, "num_hidden_layers", path);
  c.n_heads = positive_int(config, "num_attention_heads", path);
  c.n_kv_heads = config.contains("num_key_value_heads") && !config["num_key_value_heads"].is_null()
                     ? positive_int(config, "num_key_value_heads", path)
                     : c.n_heads;
  if (config.contains("head_dim") && !config["head_dim"].is_null()) {
    c.head_dim = positive_int(config, "head_dim", path);
  } else {
    if (c.dim % c.n_heads != 0) {
      fail_format("{}: no head_dim, and hidden_size {} is not a multiple of num_attention_heads {}",
                  path, c.dim, c.n_heads);
    }
    c.head_dim = c.dim / c.n_heads;
  }
  c.ffn_dim = positive_int(config, "intermediate_size", path);
  // transformers >= 5 writes rope settings as "rope_parameters": {"rope_type", "rope_theta"};
  // older configs (and the released Qwen3 ones) have a top-level rope_theta.
  double rope_theta = number_or(config, "rope_theta", 10000.0, path);
  if (config.contains("rope_parameters") && !config["rope_parameters"].is_null()) {
    const auto& rope = config["rope_parameters"];
    if (!rope.is_object()) fail_format("{}: 'rope_parameters' must be an object", path);
    const auto type = rope.value("rope_type", nlohmann::json("default"));
    if (type != "default") {
      fail_format("{}: rope_parameters.rope_type {} is not supported", path, type.dump());
    }
    if (!config.contains("rope_theta")) {
      rope_theta = number_or(rope, "rope_theta", 10000.0, path + " rope_parameters");
    }
  }
  c.rope_theta = static_cast<float>(rope_theta);
  c.rms_eps = static_cast<float>(number_or(config, "rms_norm_eps", 1e-6, path));
  c.tied_output = false;  // transformers' Qwen3Config default
  if (config.contains("tie_word_embeddings")) {
    if (!config["tie_word_embeddings"].is_boolean()) {
      fail_format("{}: 'tie_word_embeddings' must be true or false", path);
    }
    c.tied_output = config["tie_word_embeddings"].get<bool>();
  }
  return c;
}

HfModel HfModel::open(const std::string& dir) {
  HfModel m;
  m.dir_ = dir;
  const fs::path root(dir);
  const fs::path config = root / "config.json";
  if (!fs::is_regular_file(config)) {
    fail_format("'{}' is not a Hugging Face model directory: it has no config.json", dir);
  }
  m.config_ = read_hf_config(config.string());

  const fs::path single = root / "model.safetensors";
  const fs::path index = root / "model.safetensors.index.json";
  if (fs::is_regular_file(single)) {
    m.files_.push_back(SafetensorsFile::open(single.string()));
    return m;
  }
  if (!fs::is_regular_file(index)) {
    fail_format("'{}' has neither model.safetensors nor model.safetensors.index.json", dir);
  }
  const nlohmann::json j = read_json_file(index.string());
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    fail_format("{}: no 'weight_map' object", index.string());
  }
  std::map<std::string, size_t> shard_index;  // shard file name -> index into files_
  for (const auto& [tensor, shard] : j["weight_map"].items()) {
    if (!shard.is_string()) {
      fail_format("{}: weight_map entry for '{}' must be a file name", index.string(), tensor);
    }
    const std::string name = shard.get<std::string>();
    // Shards live next to the index; a path could reach files outside the model.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      fail_format("{}: weight_map entry for '{}' names '{}', not a file in the model directory",
                  index.string(), tensor, name);
    }
    auto [it, added] = shard_index.try_emplace(name, m.files_.size());
    if (added) m.files_.push_back(SafetensorsFile::open((root / name).string()));
    m.weight_map_[tensor] = it->second;
  }
  return m;
}

std::optional<StoredTensor> HfModel::find(std::string_view name) const {
  const SafetensorsFile* file = nullptr;
  if (weight_map_.empty()) {
    if (!files_.empty()) file = &files_[0];
  } else {
    auto it = weight_map_.find(std::string(name));
    if (it == weight_map_.end()) return std::nullopt;
    file = &files_[it->second];
  }
  if (file == nullptr) return std::nullopt;
  const SafetensorsTensor* t = file->find(name);
  if (t == nullptr) {
    if (weight_map_.empty()) return std::nullopt;
    fail_format("{}: the index maps tensor '{}' to this file, but it is not there", file->path(),
                name);
  }
  StoredTensor s;
  s.name = t->name;
  s.file = file->path();
  s.shape = t->shape;
  s.type = ggml_type_of(t->type);
  s.storage = file->storage();
  s.offset = t->offset;
  s.bytes = t->bytes;
  return s;
}

}  // namespace hh
