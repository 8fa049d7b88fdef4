#include "model/weights.h"

#include <cmath>
#include <cstring>
#include <set>
#include <utility>

#include "util/error.h"

namespace hh {
namespace {

enum class FieldKind { Global, PerLayer, Scalar };

// One row per Params field, in protocol order. `norm` fields are f32 whatever E is.
struct FieldSpec {
  std::string_view name;
  FieldKind kind;
  bool norm;
  Array Weights::*global = nullptr;
  Array LayerWeights::*layer = nullptr;
};

constexpr FieldSpec kFields[] = {
    {"token_embd", FieldKind::Global, false, &Weights::token_embd},
    {"output_norm", FieldKind::Global, true, &Weights::output_norm},
    {"output", FieldKind::Global, false, &Weights::output},
    {"attn_norm", FieldKind::PerLayer, true, nullptr, &LayerWeights::attn_norm},
    {"attn_q", FieldKind::PerLayer, false, nullptr, &LayerWeights::attn_q},
    {"attn_k", FieldKind::PerLayer, false, nullptr, &LayerWeights::attn_k},
    {"attn_v", FieldKind::PerLayer, false, nullptr, &LayerWeights::attn_v},
    {"attn_output", FieldKind::PerLayer, false, nullptr, &LayerWeights::attn_output},
    {"attn_q_norm", FieldKind::PerLayer, true, nullptr, &LayerWeights::attn_q_norm},
    {"attn_k_norm", FieldKind::PerLayer, true, nullptr, &LayerWeights::attn_k_norm},
    {"ffn_norm", FieldKind::PerLayer, true, nullptr, &LayerWeights::ffn_norm},
    {"ffn_gate", FieldKind::PerLayer, false, nullptr, &LayerWeights::ffn_gate},
    {"ffn_up", FieldKind::PerLayer, false, nullptr, &LayerWeights::ffn_up},
    {"ffn_down", FieldKind::PerLayer, false, nullptr, &LayerWeights::ffn_down},
    {"rope_theta", FieldKind::Scalar, true},
    {"rms_eps", FieldKind::Scalar, true},
};
constexpr size_t kFieldCount = std::size(kFields);

const FieldSpec& spec_of(std::string_view field) {
  for (const auto& f : kFields) {
    if (f.name == field) return f;
  }
  fail_usage("Params has no field '{}'", field);
}

ElemType field_elem(const FieldSpec& f, ElemType dtype) { return f.norm ? ElemType::F32 : dtype; }

std::string describe(const Array& a) {
  if (!a.valid()) return "nothing";
  return a.type_name() + " " + shape_string(a.shape());
}

bool same_view(const Array& a, const Array& b) {
  return a.valid() && b.valid() && a.storage() == b.storage() && a.offset() == b.offset() &&
         a.type() == b.type() && a.shape() == b.shape();
}

void check_tensor(const Array& a, ElemType type, const Shape& shape, const std::string& what) {
  if (!a.valid() || a.type() != type || a.shape() != shape) {
    fail_usage("weights: {}: expected {} {}, got {}", what,
               array_type_name(type, static_cast<int>(shape.size())), shape_string(shape),
               describe(a));
  }
}

}  // namespace

void validate_config(const ModelConfig& c) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", c.vocab_size}, {"dim", c.dim},
      {"n_layers", c.n_layers},     {"n_heads", c.n_heads},
      {"n_kv_heads", c.n_kv_heads}, {"head_dim", c.head_dim},
      {"ffn_dim", c.ffn_dim}};
  for (const auto& [name, value] : sizes) {
    if (value <= 0) fail_usage("model config: {} is {}, must be positive", name, value);
  }
  // RoPE (NeoX layout) rotates pairs (i, i + dh/2).
  if (c.head_dim % 2 != 0) fail_usage("model config: head_dim {} must be even", c.head_dim);
  if (c.n_heads % c.n_kv_heads != 0) {
    fail_usage("model config: n_heads {} is not a multiple of n_kv_heads {}", c.n_heads,
               c.n_kv_heads);
  }
  if (!std::isfinite(c.rope_theta) || c.rope_theta <= 0) {
    fail_usage("model config: rope_theta {} must be positive", c.rope_theta);
  }
  if (!std::isfinite(c.rms_eps) || c.rms_eps < 0) {
    fail_usage("model config: rms_eps {} must be finite and non-negative", c.rms_eps);
  }
}

size_t Weights::weight_bytes() const {
  std::set<std::pair<const Storage*, size_t>> seen;
  size_t total = 0;
  auto count = [&](const Array& a) {
    if (a.valid() && seen.insert({a.storage().get(), a.offset()}).second) total += a.bytes();
  };
  count(token_embd);
  count(output_norm);
  count(output);
  for (const auto& layer : layers) {
    for (const auto& f : kFields) {
      if (f.kind == FieldKind::PerLayer) count(layer.*f.layer);
    }
  }
  return total;
}

Shape params_tensor_shape(std::string_view field, const ModelConfig& c) {
  if (spec_of(field).kind == FieldKind::Scalar) return {};
  const int64_t q = c.n_heads * c.head_dim;
  const int64_t kv = c.n_kv_heads * c.head_dim;
  if (field == "token_embd" || field == "output") return {c.vocab_size, c.dim};
  if (field == "output_norm" || field == "attn_norm" || field == "ffn_norm") return {c.dim};
  if (field == "attn_q") return {q, c.dim};
  if (field == "attn_k" || field == "attn_v") return {kv, c.dim};
  if (field == "attn_output") return {c.dim, q};
  if (field == "attn_q_norm" || field == "attn_k_norm") return {c.head_dim};
  if (field == "ffn_gate" || field == "ffn_up") return {c.ffn_dim, c.dim};
  return {c.dim, c.ffn_dim};  // ffn_down
}

const std::vector<std::string>& params_field_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& f : kFields) v.emplace_back(f.name);
    return v;
  }();
  return names;
}

std::string params_field_type(std::string_view field, ElemType dtype) {
  const FieldSpec& f = spec_of(field);
  if (f.kind == FieldKind::Scalar) return "f32";
  const int rank = static_cast<int>(params_tensor_shape(field, ModelConfig{}).size()) +
                   (f.kind == FieldKind::PerLayer ? 1 : 0);
  return array_type_name(field_elem(f, dtype), rank);
}

Array params_field(const Weights& weights, std::string_view field) {
  const FieldSpec& f = spec_of(field);
  if (f.kind == FieldKind::Global) return weights.*f.global;
  if (f.kind == FieldKind::Scalar) {
    return Array::scalar(
        ElemType::F32, field == "rope_theta" ? weights.config.rope_theta : weights.config.rms_eps);
  }
  const Shape inner = params_tensor_shape(field, weights.config);
  const ElemType type = field_elem(f, weights.dtype);
  Shape stacked = inner;
  stacked.insert(stacked.begin(), static_cast<int64_t>(weights.layers.size()));
  if (weights.layers.empty()) return Array::allocate(type, stacked);

  const Array& first = weights.layers[0].*f.layer;
  bool contiguous = true;
  for (size_t i = 0; i < weights.layers.size(); ++i) {
    const Array& a = weights.layers[i].*f.layer;
    check_tensor(a, type, inner, fmt::format("layer {} {}", i, field));
    contiguous = contiguous && a.storage() == first.storage() &&
                 a.offset() == first.offset() + i * first.bytes();
  }
  if (contiguous) return Array(type, std::move(stacked), first.storage(), first.offset());
  if (first.space() == MemorySpace::Device) {
    fail_usage("Params field '{}': the layers' tensors are in device memory and not contiguous",
               field);
  }
  Array out = Array::allocate(type, std::move(stacked), false);
  for (size_t i = 0; i < weights.layers.size(); ++i) {
    const Array& a = weights.layers[i].*f.layer;
    std::memcpy(out.raw() + i * a.bytes(), a.raw(), a.bytes());
  }
  return out;
}

Weights weights_from_fields(std::span<const Array> fields, ElemType dtype) {
  if (!is_model_dtype(dtype)) fail_usage("Params: {} is not a model dtype", elem_name(dtype));
  if (fields.size() != kFieldCount) {
    fail_usage("Params needs {} fields, got {}", kFieldCount, fields.size());
  }
  for (size_t i = 0; i < kFieldCount; ++i) {
    const std::string expected = params_field_type(kFields[i].name, dtype);
    if (!fields[i].valid() || fields[i].type_name() != expected) {
      fail_usage("Params field '{}': expected type {}, got {}", kFields[i].name, expected,
                 fields[i].valid() ? fields[i].type_name() : std::string("nothing"));
    }
  }
  auto field = [&](std::string_view name) -> const Array& {
    for (size_t i = 0; i < kFieldCount; ++i) {
      if (kFields[i].name == name) return fields[i];
    }
    fail("unknown Params field {}", name);
  };

  // The config follows from the shapes; every field is then checked against it.
  ModelConfig c;
  c.vocab_size = field("token_embd").dim(0);
  c.dim = field("token_embd").dim(1);
  c.n_layers = field("attn_norm").dim(0);
  c.head_dim = field("attn_q_norm").dim(1);
  c.ffn_dim = field("ffn_gate").dim(1);
  if (c.head_dim <= 0)
    fail_usage("Params field 'attn_q_norm': head_dim {} must be positive", c.head_dim);
  const int64_t q_rows = field("attn_q").dim(1);
  const int64_t kv_rows = field("attn_k").dim(1);
  if (q_rows % c.head_dim != 0) {
    fail_usage(
        "Params field 'attn_q': {} rows are not a multiple of head_dim {} (from "
        "attn_q_norm)",
        q_rows, c.head_dim);
  }
  if (kv_rows % c.head_dim != 0) {
    fail_usage(
        "Params field 'attn_k': {} rows are not a multiple of head_dim {} (from "
        "attn_q_norm)",
        kv_rows, c.head_dim);
  }
  c.n_heads = q_rows / c.head_dim;
  c.n_kv_heads = kv_rows / c.head_dim;
  c.rope_theta = field("rope_theta").scalar_value<float>();
  c.rms_eps = field("rms_eps").scalar_value<float>();
  c.tied_output = same_view(field("output"), field("token_embd"));
  validate_config(c);

  for (const auto& f : kFields) {
    if (f.kind == FieldKind::Scalar) continue;
    Shape expected = params_tensor_shape(f.name, c);
    if (f.kind == FieldKind::PerLayer) expected.insert(expected.begin(), c.n_layers);
    const Array& a = field(f.name);
    if (a.shape() != expected) {
      fail_usage("Params field '{}': expected shape {}, got {}", f.name, shape_string(expected),
                 shape_string(a.shape()));
    }
  }

  Weights w;
  w.dtype = dtype;
  w.config = c;
  w.token_embd = field("token_embd");
  w.output_norm = field("output_norm");
  w.output = c.tied_output ? w.token_embd : field("output");
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (const auto& f : kFields) {
    if (f.kind != FieldKind::PerLayer) continue;
    const Array& stacked = field(f.name);
    for (int64_t i = 0; i < c.n_layers; ++i)
      w.layers[static_cast<size_t>(i)].*f.layer = stacked.slice(i);
  }
  validate_weights(w);
  return w;
}

void validate_weights(const Weights& w) {
  if (!is_model_dtype(w.dtype)) fail_usage("weights: {} is not a model dtype", elem_name(w.dtype));
  const ModelConfig& c = w.config;
  validate_config(c);
  if (static_cast<int64_t>(w.layers.size()) != c.n_layers) {
    fail_usage("weights: {} layers, the config says {}", w.layers.size(), c.n_layers);
  }
  for (const auto& f : kFields) {
    if (f.kind == FieldKind::Scalar) continue;
    const Shape shape = params_tensor_shape(f.name, c);
    const ElemType type = field_elem(f, w.dtype);
    if (f.kind == FieldKind::Global) {
      check_tensor(w.*f.global, type, shape, std::string(f.name));
      continue;
    }
    for (size_t i = 0; i < w.layers.size(); ++i) {
      check_tensor(w.layers[i].*f.layer, type, shape, fmt::format("layer {} {}", i, f.name));
    }
  }
  if (c.tied_output && !same_view(w.output, w.token_embd)) {
    fail_usage(
        "weights: the config says the output is tied, but output does not view "
        "token_embd's bytes");
  }
}

}  // namespace hh
