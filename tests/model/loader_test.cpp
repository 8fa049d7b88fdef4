#include "model/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "model/gguf.h"
#include "model/model_test_util.h"
#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

using testing::element;
using ::testing::HasSubstr;
using testing::TempDir;

float round_to(float x, ElemType t) {
  if (t == ElemType::F16) return f16_to_f32(f32_to_f16(x));
  if (t == ElemType::BF16) return bf16_to_f32(f32_to_bf16(x));
  return x;
}

std::vector<const Array*> all_tensors(const Weights& w) {
  std::vector<const Array*> out = {&w.token_embd, &w.output_norm, &w.output};
  for (const auto& l : w.layers) {
    for (const Array* a :
         {&l.attn_norm, &l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.attn_q_norm,
          &l.attn_k_norm, &l.ffn_norm, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      out.push_back(a);
    }
  }
  return out;
}

// Copies `path` to `out` through the writer, letting `edit` change metadata and tensors.
struct Rewrite {
  std::function<bool(std::string& key, GgufValue& value)> metadata;  // false drops the key
  // false drops the tensor; may replace type/dims/bytes (data must outlive the write).
  std::function<bool(GgufTensorInfo& info, const void*& data)> tensor;
};

void rewrite(const std::string& path, const std::string& out, const Rewrite& edit,
             std::vector<std::pair<std::string, GgufValue>> prepend = {}) {
  const GgufFile f = GgufFile::open(path);
  GgufWriter w;
  for (auto& [k, v] : prepend) w.add(k, v);
  for (auto [k, v] : f.metadata()) {
    if (!edit.metadata || edit.metadata(k, v)) w.add(k, v);
  }
  for (GgufTensorInfo info : f.tensors()) {
    const void* data = f.tensor_data(info);
    if (edit.tensor && !edit.tensor(info, data)) continue;
    w.add_tensor(info.name, info.dims, info.type, data, info.bytes);
  }
  w.write(out);
}

// Expects load_model to throw a FormatError containing every part.
void expect_load_error(const std::string& path, std::vector<std::string> parts) {
  try {
    load_model(path, ElemType::F32);
    ADD_FAILURE() << "no error; expected: " << parts[0];
  } catch (const FormatError& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
  }
}

class LoaderTest : public ::testing::Test {
 protected:
  std::string model(ElemType dtype, bool tied) {
    const std::string path = dir_.file(fmt::format("m_{}_{}.gguf", elem_name(dtype), tied));
    if (!std::filesystem::exists(path)) testing::write_tiny_model(path, dtype, tied);
    return path;
  }
  TempDir dir_;
};

TEST_F(LoaderTest, LoadsEveryStoredDtypeAsEveryDtype) {
  for (bool tied : {true, false}) {
    // The same seed gives the same f32 values whatever the file's dtype (rounded once).
    const Weights ref = load_model(model(ElemType::F32, tied), ElemType::F32);
    EXPECT_EQ(ref.config.tied_output, tied);
    for (ElemType stored : {ElemType::F32, ElemType::F16, ElemType::BF16}) {
      for (ElemType dtype : {ElemType::F32, ElemType::F16, ElemType::BF16}) {
        const Weights w = load_model(model(stored, tied), dtype);
        SCOPED_TRACE(fmt::format("stored {} loaded as {} tied {}", elem_name(stored),
                                 elem_name(dtype), tied));
        EXPECT_EQ(w.dtype, dtype);
        EXPECT_EQ(w.config.dim, 64);
        EXPECT_EQ(w.config.n_heads * w.config.head_dim, 128);  // h*dh != d in tiny
        EXPECT_EQ(w.config.n_kv_heads, 2);
        EXPECT_EQ(w.config.rope_theta, 1e6f);
        EXPECT_EQ(w.config.tied_output, tied);
        EXPECT_EQ(w.output.raw() == w.token_embd.raw(), tied);
        const auto got = all_tensors(w), want = all_tensors(ref);
        for (size_t k = 0; k < got.size(); ++k) {
          const bool norm = got[k]->rank() == 1;
          ASSERT_EQ(got[k]->type(), norm ? ElemType::F32 : dtype);
          // In place exactly when the file already holds this dtype; norms are f32 files.
          EXPECT_EQ(got[k]->space(),
                    norm || stored == dtype ? MemorySpace::Mapped : MemorySpace::Host);
          for (int64_t i = 0; i < want[k]->count(); ++i) {
            const float expect = norm ? element(*want[k], i)
                                      : round_to(round_to(element(*want[k], i), stored), dtype);
            ASSERT_EQ(element(*got[k], i), expect) << "tensor " << k << " element " << i;
          }
        }
      }
    }
  }
}

// Q8_0 with scale max|x|/127, as llama.cpp quantises.
std::vector<uint8_t> quantize_q8_0(const Array& a) {
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < a.count(); b += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, static_cast<float>(std::fabs(element(a, b + j))));
    const uint16_t d = f32_to_f16(amax / 127.0f);
    const float inv = amax == 0 ? 0 : 127.0f / amax;
    out.push_back(static_cast<uint8_t>(d & 0xff));
    out.push_back(static_cast<uint8_t>(d >> 8));
    for (int j = 0; j < 32; ++j) {
      out.push_back(
          static_cast<uint8_t>(static_cast<int8_t>(std::lround(element(a, b + j) * inv))));
    }
  }
  return out;
}

TEST_F(LoaderTest, DequantisesQ8_0Matrices) {
  const std::string src = model(ElemType::F32, false);
  const Weights ref = load_model(src, ElemType::F32);
  const GgufFile f = GgufFile::open(src);
  std::vector<std::vector<uint8_t>> blocks;
  blocks.reserve(f.tensors().size());
  Rewrite edit;
  edit.tensor = [&](GgufTensorInfo& info, const void*& data) {
    if (info.dims.size() != 2) return true;
    Shape shape(info.dims.rbegin(), info.dims.rend());
    Array a(ElemType::F32, shape, f.storage(), f.data_offset() + info.offset);
    blocks.push_back(quantize_q8_0(a));
    info.type = GgmlType::Q8_0;
    info.bytes = blocks.back().size();
    data = blocks.back().data();
    return true;
  };
  const std::string q8 = dir_.file("q8.gguf");
  rewrite(src, q8, edit);
  for (ElemType dtype : {ElemType::F32, ElemType::BF16}) {
    const Weights w = load_model(q8, dtype);
    // Dequantised = f16 scale * int8, computed here with scalar code from the blocks.
    const std::vector<uint8_t>& qb = blocks[0];  // token_embd is the first matrix
    for (int64_t i = 0; i < w.token_embd.count(); ++i) {
      const uint8_t* block = qb.data() + (i / 32) * 34;
      const float d = f16_to_f32(static_cast<uint16_t>(block[0] | (block[1] << 8)));
      const float want =
          round_to(d * static_cast<float>(static_cast<int8_t>(block[2 + i % 32])), dtype);
      ASSERT_EQ(element(w.token_embd, i), want) << i;
    }
    // And close to the original weights (std 0.02: the step is at most ~0.1/127).
    for (int64_t i = 0; i < ref.layers[1].ffn_down.count(); ++i) {
      ASSERT_NEAR(element(w.layers[1].ffn_down, i), element(ref.layers[1].ffn_down, i), 1.5e-3);
    }
    EXPECT_EQ(w.layers[0].ffn_norm.space(), MemorySpace::Mapped);
  }
}

TEST_F(LoaderTest, CopiesTensorsNotAlignedToTheirElementSize) {
  // Alignment 2 and a 2-byte tensor in front shift every later tensor by 2 bytes; a padding
  // key is grown until the data section's start makes the f32 tensors misaligned.
  const std::string src = model(ElemType::F32, true);
  const Weights ref = load_model(src, ElemType::F32);
  const uint16_t one = f32_to_f16(1.0f);
  std::string path;
  for (int pad = 0; pad < 4; ++pad) {
    path = dir_.file(fmt::format("odd{}.gguf", pad));
    GgufWriter w;
    w.add("general.alignment", gguf_u32(2));
    w.add("pad", gguf_string(std::string(static_cast<size_t>(pad), 'x')));
    const GgufFile f = GgufFile::open(src);
    for (const auto& [k, v] : f.metadata()) w.add(k, v);
    w.add_tensor("extra.weight", {1}, GgmlType::F16, &one, 2);
    for (const auto& info : f.tensors()) {
      w.add_tensor(info.name, info.dims, info.type, f.tensor_data(info), info.bytes);
    }
    w.write(path);
    const GgufFile g = GgufFile::open(path);
    if (reinterpret_cast<uintptr_t>(g.tensor_data(*g.find_tensor("token_embd.weight"))) % 4 != 0) {
      break;
    }
  }
  const Weights w = load_model(path, ElemType::F32);
  EXPECT_EQ(w.token_embd.space(), MemorySpace::Host);  // copied, since it could not be viewed
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.token_embd.raw()) % 4, 0u);
  const auto got = all_tensors(w), want = all_tensors(ref);
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(std::memcmp(got[k]->raw(), want[k]->raw(), want[k]->bytes()), 0) << k;
  }
}

TEST_F(LoaderTest, RejectsPathsThatAreNoModel) {
  try {
    load_model(dir_.file("absent.gguf"), ElemType::F32);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.gguf"));
  }
  testing::write_file(dir_.file("notes.txt"), "hello, world");
  expect_load_error(dir_.file("notes.txt"), {"notes.txt", "neither a GGUF file nor"});
  testing::write_file(dir_.file("empty"), "");
  expect_load_error(dir_.file("empty"), {"neither"});
  EXPECT_THROW(load_model(model(ElemType::F32, true), ElemType::I32), UsageError);
}

TEST_F(LoaderTest, RejectsBadMetadataAndTensors) {
  const std::string src = model(ElemType::F16, true);
  const std::string out = dir_.file("bad.gguf");
  auto with_key = [&](const std::string& key, std::optional<GgufValue> value) {
    Rewrite edit;
    edit.metadata = [&](std::string& k, GgufValue& v) {
      if (k != key) return true;
      if (!value) return false;
      v = *value;
      return true;
    };
    rewrite(src, out, edit);
  };
  with_key("general.architecture", gguf_string("llama"));
  expect_load_error(out, {"bad.gguf", "general.architecture is 'llama'"});
  with_key("general.architecture", std::nullopt);
  expect_load_error(out, {"bad.gguf", "'general.architecture' is missing"});
  with_key("qwen3.attention.layer_norm_rms_epsilon", std::nullopt);
  expect_load_error(out, {"qwen3.attention.layer_norm_rms_epsilon"});
  with_key("qwen3.block_count", gguf_string("2"));
  expect_load_error(out, {"qwen3.block_count", "expected an integer"});
  with_key("qwen3.block_count", gguf_u32(0));
  expect_load_error(out, {"qwen3.block_count", "must be positive"});
  with_key("qwen3.block_count", gguf_u32(3));
  expect_load_error(out, {"tensor 'blk.2.attn_norm.weight' is missing"});
  with_key("qwen3.embedding_length", gguf_u32(32));
  expect_load_error(out, {"token_embd.weight", "width 64", "embedding_length is 32"});
  with_key("qwen3.feed_forward_length", gguf_u32(256));
  expect_load_error(out, {"tensor 'blk.0.ffn_gate.weight' has shape [128][64]", "[256][64]"});
  with_key("qwen3.attention.key_length", gguf_u32(31));
  expect_load_error(out, {"value_length 32 differs from key_length 31"});
  with_key("qwen3.attention.head_count_kv", gguf_u32(3));
  expect_load_error(out, {"n_heads 4 is not a multiple of n_kv_heads 3"});

  Rewrite drop;
  drop.tensor = [](GgufTensorInfo& info, const void*&) {
    return info.name != "blk.1.ffn_up.weight";
  };
  rewrite(src, out, drop);
  expect_load_error(out, {"tensor 'blk.1.ffn_up.weight' is missing"});
  drop.tensor = [](GgufTensorInfo& info, const void*&) { return info.name != "token_embd.weight"; };
  rewrite(src, out, drop);
  expect_load_error(out, {"tensor 'token_embd.weight' is missing"});

  Rewrite reshape;  // same bytes, transposed dims
  reshape.tensor = [](GgufTensorInfo& info, const void*&) {
    if (info.name == "blk.0.attn_output.weight") std::swap(info.dims[0], info.dims[1]);
    return true;
  };
  rewrite(src, out, reshape);
  expect_load_error(out, {"'blk.0.attn_output.weight' has shape [128][64]", "needs [64][128]"});
}

}  // namespace
}  // namespace hh
