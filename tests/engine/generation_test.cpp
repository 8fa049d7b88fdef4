// gen / sample / logits semantics of DESIGN.md on the CPU backend with a tiny random model:
// stopping rules, context limits, bad input, determinism, and make_backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "engine/cpu/cpu_backend.h"
#include "engine/tiny_qwen3.h"

namespace hh {
namespace {

class Generation : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dtype = ElemType::F16;
    options_.threads = 2;
    backend_ = std::make_unique<CpuBackend>(options_);
    weights_ = backend_->adopt(test::random_weights(test::tiny_config(), ElemType::F16, 99));
  }
  std::shared_ptr<KVCache> cache(int64_t cs) {
    const ModelConfig& c = weights_->config;
    return backend_->init_cache(c.n_layers, c.n_kv_heads, cs, c.head_dim);
  }
  std::vector<int64_t> gen(const std::vector<int64_t>& xs, int64_t eos, int64_t max_new,
                           int64_t cs = 64, int64_t xsat = 0) {
    auto kv = cache(cs);
    return backend_->gen(*weights_, *kv, xsat, xs, eos, max_new);
  }
  // The message of the UsageError that f throws ("" when it throws none).
  template <typename F>
  static std::string usage_error(F&& f) {
    try {
      f();
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  }

  EngineOptions options_;
  std::unique_ptr<CpuBackend> backend_;
  std::shared_ptr<Weights> weights_;
  const std::vector<int64_t> prompt_ = {4, 8, 15, 16, 23, 42};
};

TEST_F(Generation, StopsAfterMaxNewTokens) {
  EXPECT_EQ(gen(prompt_, -1, 10).size(), 10u);
  EXPECT_EQ(gen(prompt_, -1, 1).size(), 1u);
}

TEST_F(Generation, StopsAfterEosAndIncludesIt) {
  const std::vector<int64_t> free_run = gen(prompt_, -1, 20);
  // Use the third generated token as eos: output stops at its first occurrence.
  const int64_t eos = free_run[2];
  const auto first = std::find(free_run.begin(), free_run.end(), eos) - free_run.begin();
  const std::vector<int64_t> expected(free_run.begin(), free_run.begin() + first + 1);
  EXPECT_EQ(gen(prompt_, eos, 20), expected);
  EXPECT_EQ(gen(prompt_, eos, 20).back(), eos);
}

TEST_F(Generation, StopsWhenTheCacheIsFull) {
  // The prompt takes positions 0..5 of 9; each further step writes one: 9 - 6 + 1 = 4 tokens.
  EXPECT_EQ(gen(prompt_, -1, 100, 9).size(), 4u);
  // Prompt exactly filling the cache: the one token picked from its last position.
  EXPECT_EQ(gen(prompt_, -1, 100, 6).size(), 1u);
  // At an offset: xsat 3 + 6 tokens in a cache of 12 -> 12 - 9 + 1 = 4.
  EXPECT_EQ(gen(prompt_, -1, 100, 12, 3).size(), 4u);
  // The tokens are the same as without the limit.
  const std::vector<int64_t> unlimited = gen(prompt_, -1, 4, 64);
  EXPECT_EQ(gen(prompt_, -1, 100, 9), unlimited);
}

TEST_F(Generation, ZeroMaxNewTokensStillPrefills) {
  auto kv = cache(16);
  EXPECT_TRUE(backend_->gen(*weights_, *kv, 0, prompt_, -1, 0).empty());
  EXPECT_TRUE(backend_->gen(*weights_, *kv, 0, prompt_, -1, -3).empty());
  // The prompt's keys are in the cache: continuing from there equals the full run.
  const std::vector<int64_t> rest = {7};
  std::vector<int64_t> whole = prompt_;
  whole.push_back(7);
  EXPECT_EQ(backend_->gen(*weights_, *kv, 6, rest, -1, 5), gen(whole, -1, 5));
}

TEST_F(Generation, DecodeContinuesWhereGenStopped) {
  // gen's last token is not in the cache; feeding it at the next position continues exactly.
  auto kv = cache(64);
  const std::vector<int64_t> first = backend_->gen(*weights_, *kv, 0, prompt_, -1, 5);
  const int64_t next_pos = static_cast<int64_t>(prompt_.size() + first.size()) - 1;
  const std::vector<int64_t> last = {first.back()};
  const std::vector<int64_t> second = backend_->gen(*weights_, *kv, next_pos, last, -1, 4);
  std::vector<int64_t> joined = first;
  joined.insert(joined.end(), second.begin(), second.end());
  EXPECT_EQ(joined, gen(prompt_, -1, 9));
}

TEST_F(Generation, RejectsPositionsPastTheContext) {
  auto kv = cache(8);
  std::string msg = usage_error([&] { backend_->gen(*weights_, *kv, 3, prompt_, -1, 4); });
  EXPECT_NE(msg.find("xsat (3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("6 tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cs (8)"), std::string::npos) << msg;
  EXPECT_NE(usage_error([&] { backend_->logits(*weights_, *kv, 9, std::vector<int64_t>{}); }), "");
  EXPECT_NE(usage_error([&] { backend_->gen(*weights_, *kv, -1, prompt_, -1, 4); }), "");
  EXPECT_NE(usage_error([&] { backend_->gen(*weights_, *kv, 0, std::vector<int64_t>{}, -1, 4); }),
            "");
}

TEST_F(Generation, RejectsTokenIdsOutsideTheVocabulary) {
  auto kv = cache(16);
  for (int64_t bad : {int64_t{97}, int64_t{-1}, int64_t{1} << 40}) {
    const std::vector<int64_t> xs = {1, 2, bad};
    const std::string msg = usage_error([&] { backend_->gen(*weights_, *kv, 0, xs, -1, 3); });
    EXPECT_NE(msg.find("xs[2] = " + std::to_string(bad)), std::string::npos) << msg;
    EXPECT_NE(usage_error([&] { backend_->logits(*weights_, *kv, 0, xs); }), "");
    EXPECT_NE(usage_error([&] {
                backend_->sample(*weights_, *kv, 0, xs, -1, 3, SamplingParams{1.0f, 0, 1.0f, 1});
              }),
              "");
  }
  // Nothing was written: the cache is still all zero.
  const auto* bytes = kv->k.raw();
  EXPECT_TRUE(
      std::all_of(bytes, bytes + kv->k.bytes(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_F(Generation, RejectsACacheOfAnotherShapeOrDtype) {
  const ModelConfig& c = weights_->config;
  const std::vector<int64_t> xs = {1, 2};
  auto check = [&](KVCache kv) {
    const std::string msg = usage_error([&] { backend_->gen(*weights_, kv, 0, xs, -1, 2); });
    EXPECT_NE(msg.find("does not fit the model"), std::string::npos) << msg;
  };
  check(make_host_kv_cache(c.n_layers + 1, c.n_kv_heads, 8, c.head_dim, ElemType::F16));
  check(make_host_kv_cache(c.n_layers, c.n_kv_heads * 2, 8, c.head_dim, ElemType::F16));
  check(make_host_kv_cache(c.n_layers, c.n_kv_heads, 8, c.head_dim + 2, ElemType::F16));
  check(make_host_kv_cache(c.n_layers, c.n_kv_heads, 8, c.head_dim, ElemType::F32));
  KVCache ragged = make_host_kv_cache(c.n_layers, c.n_kv_heads, 8, c.head_dim, ElemType::F16);
  ragged.v = Array::allocate(ElemType::F16, {c.n_layers, c.n_kv_heads, 9, c.head_dim});
  EXPECT_NE(usage_error([&] { backend_->gen(*weights_, ragged, 0, xs, -1, 2); }), "");
  EXPECT_NE(usage_error([&] { backend_->adopt(ragged); }), "");
  EXPECT_NE(usage_error([&] { backend_->init_cache(0, 2, 8, 16); }), "");
  EXPECT_NE(usage_error([&] { backend_->init_cache(2, 2, -8, 16); }), "");
}

TEST_F(Generation, RejectsWeightsOfAnotherDtype) {
  EXPECT_NE(usage_error([&] {
              backend_->adopt(test::random_weights(test::tiny_config(), ElemType::F32, 1));
            }),
            "");
  Weights broken = test::random_weights(test::tiny_config(), ElemType::F16, 1);
  broken.layers[1].ffn_up = Array::allocate(ElemType::F16, {3, 3});
  EXPECT_NE(usage_error([&] { backend_->adopt(std::move(broken)); }), "");
}

TEST_F(Generation, LogitsOfAllPositionsAndEmptyInput) {
  auto kv = cache(16);
  Array l = backend_->logits(*weights_, *kv, 0, prompt_);
  EXPECT_EQ(l.shape(), (Shape{6, 97}));
  EXPECT_EQ(l.type(), ElemType::F32);
  Array none = backend_->logits(*weights_, *kv, 6, std::vector<int64_t>{});
  EXPECT_EQ(none.shape(), (Shape{0, 97}));
}

TEST_F(Generation, SamplingIsDeterministicPerSeed) {
  const SamplingParams p{0.9f, 40, 0.95f, 1234};
  auto run = [&](const SamplingParams& sp) {
    auto kv = cache(64);
    return backend_->sample(*weights_, *kv, 0, prompt_, -1, 24, sp);
  };
  const std::vector<int64_t> a = run(p);
  EXPECT_EQ(a.size(), 24u);
  EXPECT_EQ(run(p), a);
  SamplingParams other = p;
  other.seed = 1235;
  other.temperature = 1.5f;
  EXPECT_NE(run(other), a);  // 24 draws from a spread-out distribution: equal by chance ~never
}

TEST_F(Generation, GreedyCasesOfSampleEqualGen) {
  const std::vector<int64_t> greedy = gen(prompt_, -1, 12);
  for (const SamplingParams& p :
       {SamplingParams{0.0f, 0, 1.0f, 5}, SamplingParams{1.3f, 1, 1.0f, 5},
        SamplingParams{1.0f, 0, 1e-7f, 5}}) {
    auto kv = cache(64);
    EXPECT_EQ(backend_->sample(*weights_, *kv, 0, prompt_, -1, 12, p), greedy)
        << p.temperature << " " << p.top_k << " " << p.top_p;
  }
}

TEST_F(Generation, RejectsBadSamplingParameters) {
  auto kv = cache(16);
  for (const SamplingParams& p :
       {SamplingParams{-1.0f, 0, 1.0f, 0}, SamplingParams{NAN, 0, 1.0f, 0},
        SamplingParams{1.0f, -2, 1.0f, 0}, SamplingParams{1.0f, 0, 0.0f, 0},
        SamplingParams{1.0f, 0, 1.5f, 0}}) {
    EXPECT_NE(usage_error([&] { backend_->sample(*weights_, *kv, 0, prompt_, -1, 3, p); }), "");
  }
}

TEST_F(Generation, ThreadCountDoesNotChangeTokens) {
  EngineOptions one = options_;
  one.threads = 1;
  CpuBackend single(one);
  std::vector<int64_t> long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt.push_back((i * 37) % 97);  // takes the sgemm path
  auto kv1 = single.init_cache(2, 2, 64, 16);
  auto kv2 = cache(64);
  EXPECT_EQ(single.threads(), 1);
  EXPECT_EQ(single.gen(*weights_, *kv1, 0, long_prompt, -1, 16),
            backend_->gen(*weights_, *kv2, 0, long_prompt, -1, 16));
  EXPECT_EQ(std::memcmp(kv1->k.raw(), kv2->k.raw(), kv1->k.bytes()), 0);
}

TEST_F(Generation, ProfilerRecordsEachCostCentre) {
  Profiler profiler;
  profiler.set_active(true);
  EngineOptions options = options_;
  options.profiler = &profiler;
  CpuBackend profiled(options);
  auto kv = profiled.init_cache(2, 2, 16, 16);
  profiled.gen(*weights_, *kv, 0, prompt_, -1, 2);
  std::set<std::string> names;
  for (const auto& e : profiler.events()) names.insert(e.name);
  for (const char* want : {cost::kMatmul, cost::kAttention, cost::kNorm, cost::kRope,
                           cost::kActivation, cost::kEmbedding, cost::kSampling}) {
    EXPECT_TRUE(names.count(want)) << want;
  }
  profiler.set_active(false);
  profiler.clear();
  profiled.gen(*weights_, *kv, 0, prompt_, -1, 2);
  EXPECT_TRUE(profiler.events().empty());
}

TEST(MakeBackend, CpuAndCuda) {
  EXPECT_EQ(parse_backend_kind("cpu"), BackendKind::Cpu);
  EXPECT_EQ(parse_backend_kind("cuda"), BackendKind::Cuda);
  EXPECT_THROW(parse_backend_kind("tpu"), UsageError);
  EngineOptions options;
  options.dtype = ElemType::BF16;
  auto cpu = make_backend(BackendKind::Cpu, options);
  EXPECT_EQ(cpu->name(), "cpu");
  EXPECT_EQ(cpu->dtype(), ElemType::BF16);
  options.dtype = ElemType::I32;
  EXPECT_THROW(make_backend(BackendKind::Cpu, options), UsageError);
#ifndef HH_HAVE_CUDA
  options.dtype = ElemType::F32;
  EXPECT_THROW(make_backend(BackendKind::Cuda, options), UsageError);
#endif
}

}  // namespace
}  // namespace hh
