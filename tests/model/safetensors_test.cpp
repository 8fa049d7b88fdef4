#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/hf_model.h"
#include "model/loader.h"
#include "model/model_test_util.h"
#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

using testing::element;
using ::testing::HasSubstr;
using testing::storage_of;
using testing::TempDir;

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

// A safetensors image: header padded with spaces to 8 bytes, as the reference writer does.
std::string safetensors_image(const std::vector<Entry>& entries, nlohmann::json extra = {}) {
  nlohmann::json header = extra.is_null() ? nlohmann::json::object() : extra;
  std::string data;
  for (const auto& e : entries) {
    header[e.name] = {{"dtype", e.dtype},
                      {"shape", e.shape},
                      {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
    data += e.bytes;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';
  testing::Bytes b;
  b.put<uint64_t>(text.size()).raw(text).raw(data);
  return b.str();
}

std::string raw_header(const std::string& json, const std::string& data = "") {
  testing::Bytes b;
  b.put<uint64_t>(json.size()).raw(json).raw(data);
  return b.str();
}

std::string f32_bytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

SafetensorsFile parse(const std::string& bytes) {
  return SafetensorsFile::parse(storage_of(bytes), "m.safetensors");
}

void expect_format_error(const std::string& bytes, std::vector<std::string> parts) {
  try {
    parse(bytes);
    ADD_FAILURE() << "no error; expected: " << parts[0];
  } catch (const FormatError& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
  }
}

TEST(Safetensors, ParsesTensorsAndIgnoresMetadata) {
  const uint16_t h[2] = {f32_to_f16(1.5f), f32_to_bf16(2.0f)};
  const std::string half(reinterpret_cast<const char*>(h), 4);
  const std::string image = safetensors_image({{"b.weight", "F32", {2, 2}, f32_bytes({1, 2, 3, 4})},
                                               {"a.weight", "F16", {1}, half.substr(0, 2)},
                                               {"c.weight", "BF16", {1, 1}, half.substr(2, 2)},
                                               {"empty", "F32", {0, 3}, ""}},
                                              {{"__metadata__", {{"format", "pt"}}}});
  const SafetensorsFile f = parse(image);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "a.weight");  // sorted by name
  const SafetensorsTensor* b = f.find("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, ElemType::F32);
  EXPECT_EQ(b->shape, (Shape{2, 2}));
  EXPECT_EQ(b->bytes, 16u);
  EXPECT_EQ(f.data_offset() % 8, 0u);
  EXPECT_EQ(load_unaligned<float>(f.storage()->data() + b->offset + 12), 4.0f);
  EXPECT_EQ(f.find("c.weight")->type, ElemType::BF16);
  EXPECT_EQ(f.find("a.weight")->type, ElemType::F16);
  EXPECT_EQ(f.find("empty")->bytes, 0u);
  EXPECT_EQ(f.find("__metadata__"), nullptr);
  EXPECT_EQ(f.find("zzz"), nullptr);
}

TEST(Safetensors, RejectsTruncatedFilesAndBadHeaders) {
  expect_format_error("", {"m.safetensors", "truncated"});
  expect_format_error("1234567", {"truncated"});
  expect_format_error(raw_header("{}").substr(0, 9), {"header length 2", "runs past the end"});
  testing::Bytes huge;
  huge.put<uint64_t>(~uint64_t{0});
  expect_format_error(huge.str(), {"header length 18446744073709551615"});
  expect_format_error(raw_header("{\"a\": "), {"bad JSON header"});
  expect_format_error(raw_header("[1, 2]"), {"must be an object", "array"});
  expect_format_error(raw_header(R"({"w": 3})"), {"tensor 'w'", "must be an object"});
  expect_format_error(raw_header(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "abcd"),
                      {"tensor 'w'", "no 'dtype'"});
  expect_format_error(raw_header(R"({"w": {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}})"),
                      {"tensor 'w'", "dtype must be a string"});
  expect_format_error(raw_header(R"({"w": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})"),
                      {"tensor 'w'", "shape must be an array"});
  expect_format_error(raw_header(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})"),
                      {"tensor 'w'", "data_offsets"});
  expect_format_error(
      raw_header(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd"),
      {"tensor 'w'", "non-negative integers", "-1"});
  expect_format_error(
      raw_header(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", "abcd"),
      {"tensor 'w'", "non-negative integers"});
  expect_format_error(raw_header(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296],
                                         "data_offsets": [0, 4]}})"),
                      {"tensor 'w'", "absurd shape"});
}

TEST(Safetensors, RejectsUnsupportedDtypes) {
  for (const char* dtype : {"I64", "F64", "BOOL", "F8_E4M3", "Q"}) {
    expect_format_error(safetensors_image({{"model.embed_tokens.weight", dtype, {1}, "12345678"}}),
                        {"tensor 'model.embed_tokens.weight'", std::string("dtype ") + dtype});
  }
}

TEST(Safetensors, RejectsOffsetsOutsideTheDataOrNotMatchingTheShape) {
  const std::string data = f32_bytes({1, 2});
  expect_format_error(
      raw_header(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}})", data),
      {"tensor 'w'", "[0, 12]", "do not lie inside the 8 data bytes"});
  expect_format_error(
      raw_header(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", data),
      {"tensor 'w'", "[8, 4]"});
  expect_format_error(
      raw_header(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", data),
      {"tensor 'w'", "span 8 bytes", "needs 12"});
  expect_format_error(
      raw_header(R"({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 4]}})", data),
      {"tensor 'w'", "needs 8"});
  expect_format_error(
      raw_header(
          R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551615]}})",
          data),
      {"tensor 'w'"});
}

// --- Hugging Face directories -------------------------------------------------------------

struct HfTensor {
  std::string name;
  Array array;  // f32, row-major
};

// The Hugging Face name and weights of every tensor of `w` (an f32 model), written
// independently of the loader's own table.
std::vector<HfTensor> hf_tensors(const Weights& w, bool with_lm_head) {
  std::vector<HfTensor> out = {{"model.embed_tokens.weight", w.token_embd},
                               {"model.norm.weight", w.output_norm}};
  if (with_lm_head) out.push_back({"lm_head.weight", w.output});
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", l.attn_norm});
    out.push_back({p + "self_attn.q_proj.weight", l.attn_q});
    out.push_back({p + "self_attn.k_proj.weight", l.attn_k});
    out.push_back({p + "self_attn.v_proj.weight", l.attn_v});
    out.push_back({p + "self_attn.o_proj.weight", l.attn_output});
    out.push_back({p + "self_attn.q_norm.weight", l.attn_q_norm});
    out.push_back({p + "self_attn.k_norm.weight", l.attn_k_norm});
    out.push_back({p + "post_attention_layernorm.weight", l.ffn_norm});
    out.push_back({p + "mlp.gate_proj.weight", l.ffn_gate});
    out.push_back({p + "mlp.up_proj.weight", l.ffn_up});
    out.push_back({p + "mlp.down_proj.weight", l.ffn_down});
  }
  return out;
}

Entry entry_of(const HfTensor& t, const std::string& dtype) {
  std::string bytes;
  const float* v = t.array.data<float>();
  for (int64_t i = 0; i < t.array.count(); ++i) {
    if (dtype == "F32") {
      bytes.append(reinterpret_cast<const char*>(&v[i]), 4);
    } else {
      const uint16_t h = dtype == "F16" ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
      bytes.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return {t.name, dtype, t.array.shape(), bytes};
}

nlohmann::json config_json(const ModelConfig& c) {
  return {{"architectures", {"Qwen3ForCausalLM"}},
          {"model_type", "qwen3"},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.dim},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"num_key_value_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"intermediate_size", c.ffn_dim},
          {"rope_theta", 123456.0},
          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", c.tied_output},
          {"torch_dtype", "bfloat16"}};
}

// Writes `w` (f32) as a Hugging Face directory with matrices stored as `dtype`, in one file
// or in two shards with an index.
void write_hf_dir(const Weights& w, const std::filesystem::path& dir, const std::string& dtype,
                  bool sharded) {
  std::filesystem::create_directories(dir);
  testing::write_file(dir / "config.json", config_json(w.config).dump(2));
  std::vector<Entry> entries;
  for (const auto& t : hf_tensors(w, !w.config.tied_output)) {
    entries.push_back(entry_of(t, t.array.rank() == 1 ? "F32" : dtype));
  }
  if (!sharded) {
    testing::write_file(dir / "model.safetensors", safetensors_image(entries));
    return;
  }
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  std::vector<Entry> shards[2];
  for (size_t i = 0; i < entries.size(); ++i) {
    const int s = i % 2;
    index["weight_map"][entries[i].name] =
        "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
    shards[s].push_back(entries[i]);
  }
  testing::write_file(dir / "model-00001-of-00002.safetensors", safetensors_image(shards[0]));
  testing::write_file(dir / "model-00002-of-00002.safetensors", safetensors_image(shards[1]));
  testing::write_file(dir / "model.safetensors.index.json", index.dump());
}

// Every tensor of `got` equals `want` (f32) rounded through `stored` and then to got's dtype.
void expect_same_model(const Weights& got, const Weights& want, ElemType stored) {
  auto round = [](float x, ElemType t) {
    if (t == ElemType::F16) return f16_to_f32(f32_to_f16(x));
    if (t == ElemType::BF16) return bf16_to_f32(f32_to_bf16(x));
    return x;
  };
  const auto a = hf_tensors(got, true), b = hf_tensors(want, true);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a[k].array.shape(), b[k].array.shape()) << a[k].name;
    const bool norm = a[k].array.rank() == 1;
    EXPECT_EQ(a[k].array.type(), norm ? ElemType::F32 : got.dtype) << a[k].name;
    for (int64_t i = 0; i < b[k].array.count(); ++i) {
      const float w =
          norm ? element(b[k].array, i) : round(round(element(b[k].array, i), stored), got.dtype);
      ASSERT_EQ(element(a[k].array, i), w) << a[k].name << " element " << i;
    }
  }
}

class HfDir : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_tiny_model(dir_.file("ref.gguf"), ElemType::F32, /*tied=*/false);
    ref_ = load_model(dir_.file("ref.gguf"), ElemType::F32);
  }
  TempDir dir_;
  Weights ref_;
};

TEST_F(HfDir, LoadsSingleFileInEveryDtype) {
  const auto hf = dir_.path() / "hf";
  write_hf_dir(ref_, hf, "BF16", false);
  for (ElemType dtype : {ElemType::F32, ElemType::F16, ElemType::BF16}) {
    const Weights w = load_model(hf.string(), dtype);
    EXPECT_EQ(w.config.vocab_size, 96);
    EXPECT_EQ(w.config.head_dim, 32);
    EXPECT_EQ(w.config.rope_theta, 123456.0f);
    EXPECT_EQ(w.config.rms_eps, 1e-5f);
    EXPECT_FALSE(w.config.tied_output);
    expect_same_model(w, ref_, ElemType::BF16);
    // Stored as the requested dtype: used in place (a view of the mapping).
    EXPECT_EQ(w.layers[1].ffn_up.space(),
              dtype == ElemType::BF16 ? MemorySpace::Mapped : MemorySpace::Host);
    EXPECT_EQ(w.layers[0].attn_norm.space(), MemorySpace::Mapped);  // f32 norms in place
  }
}

TEST_F(HfDir, LoadsShardedF32AndTiedModels) {
  const auto hf = dir_.path() / "sharded";
  write_hf_dir(ref_, hf, "F32", true);
  expect_same_model(load_model(hf.string(), ElemType::F32), ref_, ElemType::F32);
  expect_same_model(load_model(hf.string(), ElemType::F16), ref_, ElemType::F32);

  Weights tied = ref_;
  tied.config.tied_output = true;
  tied.output = tied.token_embd;
  write_hf_dir(tied, dir_.path() / "tied", "F16", false);
  const Weights w = load_model((dir_.path() / "tied").string(), ElemType::F16);
  EXPECT_TRUE(w.config.tied_output);
  EXPECT_EQ(w.output.raw(), w.token_embd.raw());
  expect_same_model(w, tied, ElemType::F16);
}

// Directories written by transformers itself (the engine's reference fixtures, when present).
TEST(HfFixtures, LoadsTransformersWrittenDirectories) {
  const std::filesystem::path root = std::filesystem::path(HH_FIXTURES_DIR) / "reference";
  int loaded = 0;
  if (std::filesystem::is_directory(root)) {
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      if (!std::filesystem::exists(entry.path() / "config.json")) continue;
      const auto config = nlohmann::json::parse(testing::read_file(entry.path() / "config.json"));
      for (ElemType dtype : {ElemType::F32, ElemType::BF16}) {
        const Weights w = load_model(entry.path().string(), dtype);
        EXPECT_EQ(w.config.vocab_size, config["vocab_size"].get<int64_t>());
        EXPECT_EQ(w.config.dim, config["hidden_size"].get<int64_t>());
        EXPECT_EQ(w.config.n_layers, config["num_hidden_layers"].get<int64_t>());
        EXPECT_EQ(w.config.tied_output, config.value("tie_word_embeddings", false));
        EXPECT_EQ(w.config.rms_eps, config["rms_norm_eps"].get<float>());
      }
      ++loaded;
    }
  }
  if (loaded == 0) GTEST_SKIP() << "no reference fixtures under " << root;
}

// Expects load_model(dir) to fail with a FormatError containing every part.
void expect_load_error(const std::filesystem::path& dir, std::vector<std::string> parts) {
  try {
    load_model(dir.string(), ElemType::F32);
    ADD_FAILURE() << "no error; expected: " << parts[0];
  } catch (const FormatError& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
  }
}

TEST_F(HfDir, RejectsBadDirectories) {
  const auto hf = dir_.path() / "bad";
  std::filesystem::create_directories(hf);
  expect_load_error(hf, {"no config.json"});

  nlohmann::json config = config_json(ref_.config);
  config["model_type"] = "llama";
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"config.json", "model_type is \"llama\""});
  config = config_json(ref_.config);
  config.erase("hidden_size");
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"'hidden_size' is missing"});
  config = config_json(ref_.config);
  config["num_hidden_layers"] = -2;
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"'num_hidden_layers' must be a positive integer"});
  config = config_json(ref_.config);
  config["use_sliding_window"] = true;
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"use_sliding_window = true is not supported"});
  config = config_json(ref_.config);
  config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"rope_scaling", "not supported"});
  testing::write_file(hf / "config.json", "{not json");
  expect_load_error(hf, {"config.json", "bad JSON"});

  testing::write_file(hf / "config.json", config_json(ref_.config).dump());
  expect_load_error(hf, {"neither model.safetensors nor model.safetensors.index.json"});

  testing::write_file(hf / "model.safetensors.index.json",
                      R"({"weight_map": {"model.norm.weight": "../escape.safetensors"}})");
  expect_load_error(hf, {"model.norm.weight", "not a file in the model directory"});

  // A tensor the index places in a shard that lacks it.
  write_hf_dir(ref_, dir_.path() / "shards", "F32", true);
  const auto idx_path = dir_.path() / "shards" / "model.safetensors.index.json";
  auto index = nlohmann::json::parse(testing::read_file(idx_path));
  index["weight_map"]["model.norm.weight"] = "model-00002-of-00002.safetensors";
  index["weight_map"]["model.embed_tokens.weight"] = "model-00002-of-00002.safetensors";
  testing::write_file(idx_path, index.dump());
  expect_load_error(dir_.path() / "shards", {"the index maps tensor", "model-0000"});
}

TEST_F(HfDir, ReadsRopeThetaFromRopeParameters) {
  const auto hf = dir_.path() / "rope";
  write_hf_dir(ref_, hf, "F32", false);
  nlohmann::json config = config_json(ref_.config);
  config.erase("rope_theta");
  config["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5e5}};
  testing::write_file(hf / "config.json", config.dump());
  EXPECT_EQ(load_model(hf.string(), ElemType::F32).config.rope_theta, 5e5f);
  config["rope_parameters"]["rope_type"] = "yarn";
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"rope_type \"yarn\" is not supported"});
}

TEST_F(HfDir, RejectsMissingAndMisshapenTensors) {
  const auto hf = dir_.path() / "m";
  write_hf_dir(ref_, hf, "F16", false);
  nlohmann::json config = config_json(ref_.config);
  config["intermediate_size"] = 100;
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"model.layers.0.mlp.gate_proj.weight", "[128][64]", "[100][64]"});
  config = config_json(ref_.config);
  config["num_hidden_layers"] = 3;
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"tensor 'model.layers.2.input_layernorm.weight' is missing"});
  config = config_json(ref_.config);
  config["vocab_size"] = 97;
  testing::write_file(hf / "config.json", config.dump());
  expect_load_error(hf, {"model.embed_tokens.weight", "[96][64]", "[97][64]"});
}

}  // namespace
}  // namespace hh
