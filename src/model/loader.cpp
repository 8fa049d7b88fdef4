// load_model: reads the config (GGUF metadata or config.json), checks every tensor's shape
// against it before any conversion work, then takes each tensor in place or converts it once.
#include "model/loader.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "model/convert.h"
#include "model/gguf.h"
#include "model/hf_model.h"
#include "util/error.h"

namespace hh {
namespace {

namespace fs = std::filesystem;

// File names of one Params tensor: GGUF (blk.N.* with "{}" for N) and Hugging Face.
struct TensorNames {
  std::string_view field;
  std::string_view gguf;
  std::string_view hf;
};

constexpr TensorNames kGlobalNames[] = {
    {"token_embd", "token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm", "output_norm.weight", "model.norm.weight"},
    {"output", "output.weight", "lm_head.weight"},
};

constexpr TensorNames kLayerNames[] = {
    {"attn_norm", "blk.{}.attn_norm.weight", "model.layers.{}.input_layernorm.weight"},
    {"attn_q", "blk.{}.attn_q.weight", "model.layers.{}.self_attn.q_proj.weight"},
    {"attn_k", "blk.{}.attn_k.weight", "model.layers.{}.self_attn.k_proj.weight"},
    {"attn_v", "blk.{}.attn_v.weight", "model.layers.{}.self_attn.v_proj.weight"},
    {"attn_output", "blk.{}.attn_output.weight", "model.layers.{}.self_attn.o_proj.weight"},
    {"attn_q_norm", "blk.{}.attn_q_norm.weight", "model.layers.{}.self_attn.q_norm.weight"},
    {"attn_k_norm", "blk.{}.attn_k_norm.weight", "model.layers.{}.self_attn.k_norm.weight"},
    {"ffn_norm", "blk.{}.ffn_norm.weight", "model.layers.{}.post_attention_layernorm.weight"},
    {"ffn_gate", "blk.{}.ffn_gate.weight", "model.layers.{}.mlp.gate_proj.weight"},
    {"ffn_up", "blk.{}.ffn_up.weight", "model.layers.{}.mlp.up_proj.weight"},
    {"ffn_down", "blk.{}.ffn_down.weight", "model.layers.{}.mlp.down_proj.weight"},
};

bool is_norm(std::string_view field) { return field.ends_with("norm"); }

using Finder = std::function<std::optional<StoredTensor>(const std::string& name)>;

// Finds every tensor and checks its shape first (cheap), then converts (the expensive part),
// so a bad file fails fast.
Weights assemble(const ModelConfig& config, ElemType dtype, const Finder& find, bool hf,
                 const std::string& origin) {
  validate_config(config);
  auto name_of = [&](const TensorNames& n, int64_t layer) {
    const std::string_view pattern = hf ? n.hf : n.gguf;
    return layer < 0 ? std::string(pattern) : fmt::format(fmt::runtime(pattern), layer);
  };
  auto require = [&](const TensorNames& n, int64_t layer) {
    const std::string name = name_of(n, layer);
    std::optional<StoredTensor> t = find(name);
    if (!t) fail_format("{}: tensor '{}' is missing", origin, name);
    const Shape want = params_tensor_shape(n.field, config);
    if (t->shape != want) {
      fail_format("{}: tensor '{}' has shape {}, the model config needs {}", t->file, name,
                  shape_string(t->shape), shape_string(want));
    }
    return *t;
  };

  std::vector<StoredTensor> globals;
  for (const auto& n : kGlobalNames) {
    if (n.field == "output" && config.tied_output) continue;
    globals.push_back(require(n, -1));
  }
  std::vector<std::vector<StoredTensor>> layers(static_cast<size_t>(config.n_layers));
  for (int64_t i = 0; i < config.n_layers; ++i) {
    for (const auto& n : kLayerNames) layers[static_cast<size_t>(i)].push_back(require(n, i));
  }

  auto take = [&](const StoredTensor& t, std::string_view field) {
    return stored_to_array(t, is_norm(field) ? ElemType::F32 : dtype);
  };
  Weights w;
  w.dtype = dtype;
  w.config = config;
  w.token_embd = take(globals[0], "token_embd");
  w.output_norm = take(globals[1], "output_norm");
  w.output = config.tied_output ? w.token_embd : take(globals[2], "output");
  w.layers.resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerWeights& l = w.layers[i];
    Array* slots[] = {&l.attn_norm,   &l.attn_q,      &l.attn_k,      &l.attn_v,
                      &l.attn_output, &l.attn_q_norm, &l.attn_k_norm, &l.ffn_norm,
                      &l.ffn_gate,    &l.ffn_up,      &l.ffn_down};
    static_assert(std::size(slots) == std::size(kLayerNames));
    for (size_t k = 0; k < std::size(kLayerNames); ++k) {
      *slots[k] = take(layers[i][k], kLayerNames[k].field);
    }
  }
  validate_weights(w);
  return w;
}

int64_t gguf_int(const GgufFile& f, const std::string& key) {
  const int64_t v = f.get(key).as_int(key);
  if (v <= 0) fail_format("{}: metadata key '{}' is {}, must be positive", f.path(), key, v);
  return v;
}

Weights load_gguf(const std::string& path, ElemType dtype) {
  const GgufFile f = GgufFile::open(path);
  const std::string& arch = f.get("general.architecture").as_string("general.architecture");
  if (arch != "qwen3") {
    fail_format("{}: general.architecture is '{}', only 'qwen3' is supported", path, arch);
  }
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) fail_format("{}: tensor 'token_embd.weight' is missing", path);
  if (embd->dims.size() != 2) {
    fail_format("{}: tensor 'token_embd.weight' has {} dimensions, expected 2", path,
                embd->dims.size());
  }

  ModelConfig c;
  c.vocab_size = embd->dims[1];  // GGUF dims are fastest first: (d, v)
  c.dim = gguf_int(f, "qwen3.embedding_length");
  c.n_layers = gguf_int(f, "qwen3.block_count");
  c.ffn_dim = gguf_int(f, "qwen3.feed_forward_length");
  c.n_heads = gguf_int(f, "qwen3.attention.head_count");
  c.n_kv_heads = f.find("qwen3.attention.head_count_kv")
                     ? gguf_int(f, "qwen3.attention.head_count_kv")
                     : c.n_heads;
  if (f.find("qwen3.attention.key_length") != nullptr) {
    c.head_dim = gguf_int(f, "qwen3.attention.key_length");
  } else if (c.dim % c.n_heads == 0) {
    c.head_dim = c.dim / c.n_heads;
  } else {
    fail_format(
        "{}: no qwen3.attention.key_length, and embedding_length {} is not a multiple of "
        "head_count {}",
        path, c.dim, c.n_heads);
  }
  if (const GgufValue* v = f.find("qwen3.attention.value_length");
      v != nullptr && v->as_int("qwen3.attention.value_length") != c.head_dim) {
    fail_format("{}: qwen3.attention.value_length {} differs from key_length {}", path,
                v->as_int("qwen3.attention.value_length"), c.head_dim);
  }
  // llama.cpp's default when the key is absent.
  c.rope_theta =
      f.find("qwen3.rope.freq_base")
          ? static_cast<float>(f.get("qwen3.rope.freq_base").as_float("qwen3.rope.freq_base"))
          : 10000.0f;
  c.rms_eps = static_cast<float>(f.get("qwen3.attention.layer_norm_rms_epsilon")
                                     .as_float("qwen3.attention.layer_norm_rms_epsilon"));
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  if (embd->dims[0] != c.dim) {
    fail_format("{}: tensor 'token_embd.weight' has width {} but qwen3.embedding_length is {}",
                path, embd->dims[0], c.dim);
  }

  Finder find = [&](const std::string& name) -> std::optional<StoredTensor> {
    const GgufTensorInfo* info = f.find_tensor(name);
    if (info == nullptr) return std::nullopt;
    StoredTensor t;
    t.name = info->name;
    t.file = path;
    t.shape.assign(info->dims.rbegin(), info->dims.rend());
    t.type = info->type;
    t.storage = f.storage();
    t.offset = f.data_offset() + info->offset;
    t.bytes = info->bytes;
    return t;
  };
  try {
    return assemble(c, dtype, find, false, path);
  } catch (const UsageError& e) {  // config checks: the file's metadata is what is wrong
    fail_format("{}: {}", path, e.what());
  }
}

Weights load_hf(const std::string& dir, ElemType dtype) {
  const HfModel m = HfModel::open(dir);
  ModelConfig c = m.config();
  Finder find = [&](const std::string& name) { return m.find(name); };
  try {
    return assemble(c, dtype, find, true, dir);
  } catch (const UsageError& e) {
    fail_format("{}: {}", dir, e.what());
  }
}

}  // namespace

Weights load_model(const std::string& path, ElemType dtype) {
  if (!is_model_dtype(dtype)) fail_usage("cannot load a model as {}", elem_name(dtype));
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail_usage("model '{}' does not exist", path);
  if (fs::is_directory(st)) return load_hf(path, dtype);
  if (fs::is_regular_file(st)) {
    char magic[4] = {};
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_errno("cannot open '" + path + "'");
    in.read(magic, 4);
    if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return load_gguf(path, dtype);
  }
  fail_format("'{}' is neither a GGUF file nor a Hugging Face model directory", path);
}

}  // namespace hh
