#include "model/weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model/model_test_util.h"
#include "util/error.h"

namespace hh {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::vector<Array> fields_of(const Weights& w) {
  std::vector<Array> out;
  for (const auto& name : params_field_names()) out.push_back(params_field(w, name));
  return out;
}

size_t index_of(std::string_view field) {
  const auto& names = params_field_names();
  return static_cast<size_t>(std::find(names.begin(), names.end(), field) - names.begin());
}

bool same_bytes(const Array& a, const Array& b) {
  return a.type() == b.type() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

class WeightsTest : public ::testing::Test {
 protected:
  Weights load(ElemType dtype, bool tied) {
    const std::string path = dir_.file(fmt::format("m{}{}.gguf", elem_name(dtype), tied));
    testing::write_tiny_model(path, dtype, tied);
    return load_model(path, dtype);
  }
  // Expects weights_from_fields to throw UsageError mentioning every part.
  void expect_error(const std::vector<Array>& fields, ElemType dtype,
                    std::vector<std::string> parts) {
    try {
      weights_from_fields(fields, dtype);
      ADD_FAILURE() << "no error; expected: " << parts[0];
    } catch (const UsageError& e) {
      for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
    }
  }
  TempDir dir_;
};

TEST(ParamsFields, NamesAndTypes) {
  const std::vector<std::string> want = {"token_embd",  "output_norm", "output",     "attn_norm",
                                         "attn_q",      "attn_k",      "attn_v",     "attn_output",
                                         "attn_q_norm", "attn_k_norm", "ffn_norm",   "ffn_gate",
                                         "ffn_up",      "ffn_down",    "rope_theta", "rms_eps"};
  EXPECT_EQ(params_field_names(), want);
  EXPECT_EQ(params_field_type("token_embd", ElemType::BF16), "[][]bf16");
  EXPECT_EQ(params_field_type("output_norm", ElemType::F16), "[]f32");
  EXPECT_EQ(params_field_type("attn_q", ElemType::F16), "[][][]f16");
  EXPECT_EQ(params_field_type("attn_q_norm", ElemType::F16), "[][]f32");
  EXPECT_EQ(params_field_type("ffn_down", ElemType::F32), "[][][]f32");
  EXPECT_EQ(params_field_type("rms_eps", ElemType::F16), "f32");
  EXPECT_THROW(params_field_type("bias", ElemType::F32), UsageError);
  const ModelConfig tiny = model_preset("tiny");
  EXPECT_EQ(params_tensor_shape("attn_q", tiny), (Shape{128, 64}));
  EXPECT_EQ(params_tensor_shape("attn_output", tiny), (Shape{64, 128}));
  EXPECT_EQ(params_tensor_shape("attn_v", tiny), (Shape{64, 64}));
  EXPECT_EQ(params_tensor_shape("ffn_down", tiny), (Shape{64, 128}));
  EXPECT_EQ(params_tensor_shape("output", tiny), (Shape{151936, 64}));
  EXPECT_EQ(params_tensor_shape("attn_k_norm", tiny), (Shape{32}));
  EXPECT_EQ(params_tensor_shape("rms_eps", tiny), (Shape{}));
  EXPECT_THROW(params_tensor_shape("bias", tiny), UsageError);
}

TEST_F(WeightsTest, FieldsRoundTripTiedAndUntied) {
  for (bool tied : {true, false}) {
    const Weights w = load(ElemType::F16, tied);
    const std::vector<Array> fields = fields_of(w);
    EXPECT_EQ(fields[index_of("attn_q")].shape(), (Shape{2, 128, 64}));
    EXPECT_EQ(fields[index_of("attn_k_norm")].shape(), (Shape{2, 32}));
    EXPECT_EQ(fields[index_of("rope_theta")].scalar_value<float>(), 1e6f);
    EXPECT_EQ(fields[index_of("rms_eps")].scalar_value<float>(), 1e-6f);
    // The GGUF file interleaves layers, so stacking copies; the copy holds both layers.
    EXPECT_TRUE(same_bytes(fields[index_of("ffn_up")].slice(1), w.layers[1].ffn_up));

    const Weights back = weights_from_fields(fields, ElemType::F16);
    EXPECT_EQ(back.config.tied_output, tied);
    EXPECT_EQ(back.config.n_heads, 4);
    EXPECT_EQ(back.config.n_kv_heads, 2);
    EXPECT_EQ(back.config.head_dim, 32);
    EXPECT_EQ(back.config.ffn_dim, 128);
    EXPECT_EQ(back.config.vocab_size, 96);
    EXPECT_EQ(back.config.n_layers, 2);
    EXPECT_EQ(back.output.raw() == back.token_embd.raw(), tied);
    // Per-layer tensors are views of the stacked arrays, and stacking them again is free.
    EXPECT_EQ(back.layers[1].attn_v.storage(), fields[index_of("attn_v")].storage());
    const Array again = params_field(back, "attn_v");
    EXPECT_EQ(again.storage(), fields[index_of("attn_v")].storage());
    EXPECT_EQ(again.offset(), fields[index_of("attn_v")].offset());
    for (size_t i = 0; i < fields.size(); ++i) {
      EXPECT_TRUE(same_bytes(params_field(back, params_field_names()[i]), fields[i]))
          << params_field_names()[i];
    }
  }
}

TEST_F(WeightsTest, WeightBytesCountsATiedOutputOnce) {
  const Weights tied = load(ElemType::F32, true);
  const Weights untied = load(ElemType::F32, false);
  const size_t embd = 96 * 64 * 4;
  EXPECT_EQ(untied.weight_bytes(), tied.weight_bytes() + embd);
  size_t total = tied.token_embd.bytes() + tied.output_norm.bytes();
  for (const auto& l : tied.layers) {
    for (const Array* a :
         {&l.attn_norm, &l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.attn_q_norm,
          &l.attn_k_norm, &l.ffn_norm, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      total += a->bytes();
    }
  }
  EXPECT_EQ(tied.weight_bytes(), total);
}

TEST_F(WeightsTest, FromFieldsNamesEveryMismatch) {
  const Weights w = load(ElemType::F16, false);
  const std::vector<Array> good = fields_of(w);
  ASSERT_NO_THROW(weights_from_fields(good, ElemType::F16));

  expect_error({good.begin(), good.end() - 1}, ElemType::F16, {"16 fields, got 15"});
  // Dtype: the whole Params is f16, so an f32 model is the wrong type.
  expect_error(good, ElemType::F32, {"'token_embd'", "expected type [][]f32", "got [][]f16"});
  auto with = [&](std::string_view field, Array a) {
    std::vector<Array> f = good;
    f[index_of(field)] = std::move(a);
    return f;
  };
  expect_error(with("attn_norm", Array::allocate(ElemType::F16, {2, 64})), ElemType::F16,
               {"'attn_norm'", "expected type [][]f32", "got [][]f16"});
  expect_error(with("attn_q", Array::allocate(ElemType::F16, {128, 64})), ElemType::F16,
               {"'attn_q'", "[][][]f16", "got [][]f16"});
  expect_error(with("rms_eps", Array()), ElemType::F16, {"'rms_eps'", "got nothing"});
  expect_error(with("attn_v", Array::allocate(ElemType::F16, {2, 32, 64})), ElemType::F16,
               {"'attn_v'", "expected shape [2][64][64]", "got [2][32][64]"});
  expect_error(with("attn_output", Array::allocate(ElemType::F16, {2, 64, 96})), ElemType::F16,
               {"'attn_output'", "expected shape [2][64][128]", "got [2][64][96]"});
  expect_error(with("ffn_down", Array::allocate(ElemType::F16, {2, 64, 64})), ElemType::F16,
               {"'ffn_down'", "expected shape [2][64][128]"});
  expect_error(with("ffn_norm", Array::allocate(ElemType::F32, {3, 64})), ElemType::F16,
               {"'ffn_norm'", "expected shape [2][64]", "got [3][64]"});
  expect_error(with("output", Array::allocate(ElemType::F16, {95, 64})), ElemType::F16,
               {"'output'", "expected shape [96][64]", "got [95][64]"});
  expect_error(with("attn_q", Array::allocate(ElemType::F16, {2, 100, 64})), ElemType::F16,
               {"'attn_q'", "100 rows are not a multiple of head_dim 32"});
  expect_error(with("attn_k", Array::allocate(ElemType::F16, {2, 48, 64})), ElemType::F16,
               {"'attn_k'", "48 rows"});
  // h = 4 query heads over kvh = 3 key/value heads cannot be grouped.
  auto bad_groups = with("attn_k", Array::allocate(ElemType::F16, {2, 96, 64}));
  bad_groups[index_of("attn_v")] = Array::allocate(ElemType::F16, {2, 96, 64});
  expect_error(bad_groups, ElemType::F16, {"n_heads 4 is not a multiple of n_kv_heads 3"});
  expect_error(with("rms_eps", Array::scalar(ElemType::F32, -1.0f)), ElemType::F16, {"rms_eps -1"});
  expect_error(with("rope_theta", Array::scalar(ElemType::F32, 0.0f)), ElemType::F16,
               {"rope_theta 0"});
  expect_error(with("attn_q_norm", Array::allocate(ElemType::F32, {2, 0})), ElemType::F16,
               {"head_dim 0"});
}

TEST_F(WeightsTest, ValidateNamesTheTensor) {
  Weights w = load(ElemType::BF16, true);
  EXPECT_NO_THROW(validate_weights(w));
  Weights bad = w;
  bad.layers[1].ffn_gate = Array::allocate(ElemType::F32, {128, 64});
  try {
    validate_weights(bad);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("layer 1 ffn_gate"));
    EXPECT_THAT(e.what(), HasSubstr("expected [][]bf16 [128][64], got [][]f32 [128][64]"));
  }
  bad = w;
  bad.layers.pop_back();
  EXPECT_THROW(validate_weights(bad), UsageError);
  bad = w;
  bad.output = w.token_embd.clone();  // tied in the config, but not the same bytes
  EXPECT_THROW(validate_weights(bad), UsageError);
  bad = w;
  bad.layers[0].attn_k_norm = Array();
  EXPECT_THROW(validate_weights(bad), UsageError);
  bad = w;
  bad.config.head_dim = 33;
  EXPECT_THROW(validate_weights(bad), UsageError);
}

}  // namespace
}  // namespace hh
