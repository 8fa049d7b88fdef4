// The CUDA backend against the CPU backend on tiny random models and the reference fixtures:
// logits within the tolerances (f32 1e-4 relative, f16/bf16 2e-2), greedy tokens
// identical in f32, DESIGN.md's stopping rules, caches moved between the backends, graph and
// host-driven decode agreeing, profiling, memory accounting, and bad input (including a cache
// that does not fit). Skipped where no GPU is present.
#ifdef HH_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/cpu/cpu_backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_test_util.h"
#include "engine/cuda/decode_trace.h"
#include "engine/tiny_qwen3.h"
#include "model/loader.h"

namespace hh {
namespace {

using Tokens = std::vector<int64_t>;

double rel_error(const Array& got, const Array& want, int64_t row) {
  const int64_t v = want.dim(1);
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < v; ++i) {
    const double g = got.data<float>()[row * v + i], w = want.data<float>()[row * v + i];
    diff += (g - w) * (g - w);
    norm += w * w;
  }
  return std::sqrt(diff / norm);
}

// A model with the shapes of the small cases: h*dh != d, group 2, and a vocabulary of
// odd size; untied so that the output matrix is its own tensor.
ModelConfig test_config() {
  ModelConfig c = test::tiny_config(/*tied=*/false);
  c.vocab_size = 301;
  c.dim = 64;
  c.head_dim = 32;
  c.ffn_dim = 96;
  return c;
}

class CudaBackendTest : public ::testing::TestWithParam<ElemType> {
 protected:
  void SetUp() override {
    HH_SKIP_WITHOUT_GPU();
    EngineOptions options;
    options.dtype = GetParam();
    options.threads = 2;
    cpu_ = std::make_unique<CpuBackend>(options);
    gpu_ = std::make_unique<cuda::CudaBackend>(options);
    host_weights_ = test::random_weights(test_config(), GetParam(), 7);
    cpu_w_ = cpu_->adopt(host_weights_);
    gpu_w_ = gpu_->adopt(host_weights_);
  }
  std::shared_ptr<KVCache> cache(Backend& b, int64_t cs) {
    const ModelConfig& c = host_weights_.config;
    return b.init_cache(c.n_layers, c.n_kv_heads, cs, c.head_dim);
  }
  double tolerance() const { return GetParam() == ElemType::F32 ? 1e-4 : 2e-2; }

  std::unique_ptr<CpuBackend> cpu_;
  std::unique_ptr<cuda::CudaBackend> gpu_;
  Weights host_weights_;
  std::shared_ptr<Weights> cpu_w_, gpu_w_;
  const std::vector<int64_t> prompt_ = {4, 8, 15, 16, 23, 42, 300, 0, 7};
};

TEST_P(CudaBackendTest, LogitsMatchTheCpuForPrefillAndDecode) {
  auto cc = cache(*cpu_, 64), gc = cache(*gpu_, 64);
  const Array want = cpu_->logits(*cpu_w_, *cc, 0, prompt_);
  const Array got = gpu_->logits(*gpu_w_, *gc, 0, prompt_);
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t t = 0; t < want.dim(0); ++t) EXPECT_LT(rel_error(got, want, t), tolerance()) << t;
  // One more token on each: the decode path (T = 1) over the cache the prefill wrote.
  const std::vector<int64_t> next = {99};
  const Array want1 = cpu_->logits(*cpu_w_, *cc, 9, next);
  const Array got1 = gpu_->logits(*gpu_w_, *gc, 9, next);
  EXPECT_LT(rel_error(got1, want1, 0), tolerance());
}

// f32 prefill runs as split bf16 products (split weights made at the first prefill of each
// weights value) or, with HH_CUDA_SPLIT_BF16=0 (as where they do not fit), as plain f32 products:
// both match the CPU, weights swapped on one backend get their own halves, and long prompts whose
// attention leaves the products for the flash kernel match too.
TEST_P(CudaBackendTest, F32PrefillSplitAndPlainMatchTheCpu) {
  if (GetParam() != ElemType::F32) GTEST_SKIP() << "f32 only";
  const Weights other_host = test::random_weights(test_config(), ElemType::F32, 8);
  auto other_cpu = cpu_->adopt(other_host);
  auto other_gpu = gpu_->adopt(other_host);
  std::vector<float> split_logits, plain_logits;  // of the first weights
  for (const char* setting : {"1", "0", "1"}) {
    ASSERT_EQ(setenv("HH_CUDA_SPLIT_BF16", setting, 1), 0);
    for (int round = 0; round < 2; ++round) {
      const auto& [cw, gw] =
          round == 0 ? std::pair{cpu_w_, gpu_w_} : std::pair{other_cpu, other_gpu};
      auto cc = cache(*cpu_, 64), gc = cache(*gpu_, 64);
      const Array want = cpu_->logits(*cw, *cc, 0, prompt_);
      const Array got = gpu_->logits(*gw, *gc, 0, prompt_);
      for (int64_t t = 0; t < want.dim(0); ++t) {
        EXPECT_LT(rel_error(got, want, t), tolerance()) << setting << " " << round << " " << t;
      }
      if (round == 0) {
        (setting[0] == '0' ? plain_logits : split_logits)
            .assign(got.data<float>(), got.data<float>() + got.count());
      }
    }
  }
  // The two paths are different arithmetic: equal logits would mean one of them never ran.
  EXPECT_NE(split_logits, plain_logits);
  unsetenv("HH_CUDA_SPLIT_BF16");
  // A prompt past the attention products' 1024 keys: its last chunk takes the flash kernel
  // between split projections (the queries copied out packed, its output split afterwards).
  std::vector<int64_t> long_prompt(1030);
  for (size_t i = 0; i < long_prompt.size(); ++i)
    long_prompt[i] = static_cast<int64_t>(i * 7 % 301);
  auto cc = cache(*cpu_, 1040), gc = cache(*gpu_, 1040);
  const Array want = cpu_->logits(*cpu_w_, *cc, 0, long_prompt);
  const Array got = gpu_->logits(*gpu_w_, *gc, 0, long_prompt);
  for (const int64_t t : {int64_t{0}, int64_t{511}, int64_t{1023}, int64_t{1024}, int64_t{1029}}) {
    EXPECT_LT(rel_error(got, want, t), tolerance()) << "long prompt, position " << t;
  }
}

TEST_P(CudaBackendTest, GreedyTokensMatchTheCpu) {
  for (const auto& xs : {prompt_, std::vector<int64_t>{5}}) {
    auto cc = cache(*cpu_, 80), gc = cache(*gpu_, 80);
    const auto want = cpu_->gen(*cpu_w_, *cc, 0, xs, -1, 40);
    const auto got = gpu_->gen(*gpu_w_, *gc, 0, xs, -1, 40);
    ASSERT_EQ(got.size(), 40u);
    if (GetParam() == ElemType::F32) {
      EXPECT_EQ(got, want);
    } else {
      // Rounding of the activations may flip a near tie; the first tokens still agree.
      EXPECT_EQ(std::vector<int64_t>(got.begin(), got.begin() + 3),
                std::vector<int64_t>(want.begin(), want.begin() + 3));
    }
  }
}

TEST_P(CudaBackendTest, StoppingRulesOfGen) {
  auto gc = cache(*gpu_, 64);
  const auto free_run = gpu_->gen(*gpu_w_, *gc, 0, prompt_, -1, 12);
  ASSERT_EQ(free_run.size(), 12u);
  // eos: the run stops right after the first occurrence, which is included.
  const int64_t eos = free_run[5];
  const auto first = std::find(free_run.begin(), free_run.end(), eos) - free_run.begin();
  gc = cache(*gpu_, 64);
  const auto with_eos = gpu_->gen(*gpu_w_, *gc, 0, prompt_, eos, 12);
  EXPECT_EQ(with_eos, std::vector<int64_t>(free_run.begin(), free_run.begin() + first + 1));
  // A full cache: at most cs - (xsat + T) + 1 tokens.
  for (const int64_t xsat : {0, 3}) {
    auto small = cache(*gpu_, 14);
    const auto out = gpu_->gen(*gpu_w_, *small, xsat, prompt_, -1, 100);
    EXPECT_EQ(static_cast<int64_t>(out.size()), 14 - (xsat + 9) + 1);
  }
  auto exact = cache(*gpu_, 9);
  EXPECT_EQ(gpu_->gen(*gpu_w_, *exact, 0, prompt_, -1, 100).size(), 1u);
  // No tokens asked for: the prompt still goes into the cache.
  auto a = cache(*gpu_, 64), b = cache(*gpu_, 64);
  EXPECT_TRUE(gpu_->gen(*gpu_w_, *a, 0, prompt_, -1, 0).empty());
  gpu_->gen(*gpu_w_, *b, 0, prompt_, -1, 1);
  const Array ka = gpu_->to_host(a->k), kb = gpu_->to_host(b->k);
  EXPECT_EQ(std::memcmp(ka.raw(), kb.raw(), ka.bytes()), 0);
}

TEST_P(CudaBackendTest, CacheMovesBetweenBackendsAndContinues) {
  // Prefill on the GPU, continue on the CPU from a host copy of the cache, and the other way;
  // every continuation must equal the one on the backend that made the cache.
  auto gc = cache(*gpu_, 64);
  gpu_->gen(*gpu_w_, *gc, 0, prompt_, -1, 0);
  auto on_cpu = cpu_->adopt(KVCache{gpu_->to_host(gc->k).clone(), gpu_->to_host(gc->v).clone()});
  const std::vector<int64_t> more = {11, 12};
  const auto cpu_tokens = cpu_->gen(*cpu_w_, *on_cpu, 9, more, -1, 8);
  const auto gpu_tokens = gpu_->gen(*gpu_w_, *gc, 9, more, -1, 8);
  if (GetParam() == ElemType::F32) {
    EXPECT_EQ(gpu_tokens, cpu_tokens);
  }
  auto cc = cache(*cpu_, 64);
  cpu_->gen(*cpu_w_, *cc, 0, prompt_, -1, 0);
  auto on_gpu = gpu_->adopt(KVCache{cc->k, cc->v});
  EXPECT_EQ(on_gpu->k.space(), MemorySpace::Device);
  const auto back = gpu_->gen(*gpu_w_, *on_gpu, 9, more, -1, 8);
  const auto cpu_again = cpu_->gen(*cpu_w_, *cc, 9, more, -1, 8);
  if (GetParam() == ElemType::F32) {
    EXPECT_EQ(back, cpu_again);
  }
}

TEST_P(CudaBackendTest, SampleMatchesTheCpuSampler) {
  const SamplingParams cases[] = {{0.9f, 0, 1.0f, 3}, {1.0f, 20, 0.8f, 4}, {0.0f, 0, 1.0f, 5}};
  for (const SamplingParams& p : cases) {
    auto cc = cache(*cpu_, 64), gc = cache(*gpu_, 64);
    const auto want = cpu_->sample(*cpu_w_, *cc, 0, prompt_, -1, 20, p);
    const auto got = gpu_->sample(*gpu_w_, *gc, 0, prompt_, -1, 20, p);
    ASSERT_EQ(got.size(), 20u);
    if (GetParam() == ElemType::F32) {
      EXPECT_EQ(got, want);
    }
    // Deterministic per seed.
    auto gc2 = cache(*gpu_, 64);
    EXPECT_EQ(gpu_->sample(*gpu_w_, *gc2, 0, prompt_, -1, 20, p), got);
  }
  auto gc = cache(*gpu_, 64);
  EXPECT_THROW(gpu_->sample(*gpu_w_, *gc, 0, prompt_, -1, 5, SamplingParams{-1.0f, 0, 1.0f, 0}),
               UsageError);
}

TEST_P(CudaBackendTest, HostDrivenDecodeEqualsTheGraph) {
  ASSERT_EQ(setenv("HH_CUDA_DECODE", "host", 1), 0);
  EngineOptions options;
  options.dtype = GetParam();
  cuda::CudaBackend host(options);
  unsetenv("HH_CUDA_DECODE");
  ASSERT_EQ(host.decode_mode(), cuda::CudaBackend::DecodeMode::Host);
  auto w = host.adopt(host_weights_);
  auto hc = host.init_cache(2, 2, 64, 32), gc = cache(*gpu_, 64);
  EXPECT_EQ(host.gen(*w, *hc, 0, prompt_, -1, 30), gpu_->gen(*gpu_w_, *gc, 0, prompt_, -1, 30));
  // Graph replays: the second call reuses the captured graph with a new state.
  gc = cache(*gpu_, 64);
  hc = host.init_cache(2, 2, 64, 32);
  EXPECT_EQ(host.gen(*w, *hc, 0, Tokens{3}, -1, 17), gpu_->gen(*gpu_w_, *gc, 0, Tokens{3}, -1, 17));
}

TEST_P(CudaBackendTest, DecodeTimelineRecordsEveryLaunchOfTheChosenSteps) {
  const std::string path = ::testing::TempDir() + "hh_decode_timeline.csv";
  std::remove(path.c_str());
  ASSERT_EQ(setenv("HH_CUDA_TRACE", path.c_str(), 1), 0);
  ASSERT_EQ(setenv("HH_CUDA_TRACE_STEPS", "10:13", 1), 0);
  EngineOptions options;
  options.dtype = GetParam();
  cuda::CudaBackend traced(options);
  unsetenv("HH_CUDA_TRACE");
  unsetenv("HH_CUDA_TRACE_STEPS");
  auto w = traced.adopt(host_weights_);
  auto tc = traced.init_cache(2, 2, 64, 32), gc = cache(*gpu_, 64);
  EXPECT_EQ(traced.gen(*w, *tc, 0, prompt_, -1, 12), gpu_->gen(*gpu_w_, *gc, 0, prompt_, -1, 12));

  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "gen,launch,step,sm,block,start,waited,end");
  const int64_t launches = 5 * host_weights_.config.n_layers + 1;
  std::map<int64_t, std::set<int64_t>> seen;  // step -> launches
  int64_t rows = 0;
  while (std::getline(in, line)) {
    long long gen, launch, step, sm, block;
    unsigned long long start, waited, end;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lld,%lld,%lld,%lld,%lld,%llu,%llu,%llu", &gen, &launch,
                          &step, &sm, &block, &start, &waited, &end),
              8)
        << line;
    EXPECT_EQ(gen, 0);
    EXPECT_LE(start, waited) << line;
    EXPECT_LE(waited, end) << line;
    seen[step].insert(launch);
    ++rows;
  }
  std::remove(path.c_str());
  ASSERT_EQ(seen.size(), 3u) << rows << " records";
  for (const auto& [step, ids] : seen) {
    EXPECT_GE(step, 10);
    EXPECT_LT(step, 13);
    EXPECT_EQ(static_cast<int64_t>(ids.size()), launches) << "step " << step;
    EXPECT_EQ(*ids.begin(), 1);
    EXPECT_EQ(*ids.rbegin(), launches);
  }
}

TEST_P(CudaBackendTest, ParamsFieldsComeBackUnchanged) {
  for (const std::string& name : params_field_names()) {
    const Array want = params_field(host_weights_, name);
    const Array got = gpu_->to_host(params_field(*gpu_w_, name));
    ASSERT_EQ(got.shape(), want.shape()) << name;
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.bytes()), 0) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaBackendTest,
                         ::testing::Values(ElemType::F32, ElemType::F16, ElemType::BF16),
                         [](const auto& info) { return std::string(elem_name(info.param)); });

class CudaBackendErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    HH_SKIP_WITHOUT_GPU();
    options_.dtype = ElemType::F32;
    gpu_ = std::make_unique<cuda::CudaBackend>(options_);
    w_ = gpu_->adopt(test::random_weights(test::tiny_config(), ElemType::F32, 3));
  }
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
  Profiler profiler_;
  std::unique_ptr<cuda::CudaBackend> gpu_;
  std::shared_ptr<Weights> w_;
};

TEST_F(CudaBackendErrors, BadInputFailsCleanly) {
  auto kv = gpu_->init_cache(2, 2, 16, 16);
  const std::vector<int64_t> bad_token = {1, 97};
  EXPECT_NE(usage_error([&] { gpu_->gen(*w_, *kv, 0, bad_token, -1, 3); }).find("xs[1] = 97"),
            std::string::npos);
  const std::vector<int64_t> ok = {1, 2};
  EXPECT_NE(usage_error([&] { gpu_->gen(*w_, *kv, 15, ok, -1, 3); }).find("exceeds"),
            std::string::npos);
  EXPECT_NE(usage_error([&] { gpu_->gen(*w_, *kv, 0, {}, -1, 3); }).find("at least one"),
            std::string::npos);
  auto other = gpu_->init_cache(2, 2, 16, 8);
  EXPECT_NE(usage_error([&] { gpu_->gen(*w_, *other, 0, ok, -1, 3); }).find("does not fit"),
            std::string::npos);
  // Host weights are refused where device weights are expected.
  Weights host = test::random_weights(test::tiny_config(), ElemType::F32, 3);
  EXPECT_NE(usage_error([&] { gpu_->gen(host, *kv, 0, ok, -1, 3); }).find("GPU memory"),
            std::string::npos);
  // The backend still works.
  EXPECT_EQ(gpu_->gen(*w_, *kv, 0, ok, -1, 3).size(), 3u);
}

TEST_F(CudaBackendErrors, MalformedTimelineSettingsAreUsageErrorsNamingTheSetting) {
  ASSERT_EQ(setenv("HH_CUDA_TRACE", (::testing::TempDir() + "hh_bad_timeline.csv").c_str(), 1), 0);
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"HH_CUDA_TRACE_STEPS", "10"},    {"HH_CUDA_TRACE_STEPS", "5:5"},
      {"HH_CUDA_TRACE_STEPS", "-1:4"},  {"HH_CUDA_TRACE_STEPS", "1:4x"},
      {"HH_CUDA_TRACE_GENS", "0"},      {"HH_CUDA_TRACE_GENS", "-3"},
      {"HH_CUDA_TRACE_RECORDS", "12k"}, {"HH_CUDA_TRACE_RECORDS", ""}};
  for (const auto& [name, value] : bad) {
    ASSERT_EQ(setenv(name, value, 1), 0);
    const std::string what = usage_error([] { cuda::DecodeTrace::from_environment(); });
    EXPECT_NE(what.find(name), std::string::npos) << name << "='" << value << "': " << what;
    EXPECT_NE(what.find(std::string("'") + value + "'"), std::string::npos) << what;
    unsetenv(name);
  }
  // Unset, or an empty path: no timeline.
  unsetenv("HH_CUDA_TRACE");
  EXPECT_EQ(cuda::DecodeTrace::from_environment(), nullptr);
  ASSERT_EQ(setenv("HH_CUDA_TRACE", "", 1), 0);
  EXPECT_EQ(cuda::DecodeTrace::from_environment(), nullptr);
  unsetenv("HH_CUDA_TRACE");
}

TEST_F(CudaBackendErrors, CacheThatDoesNotFitIsAUsageErrorAndTheBackendStaysUsable) {
  const int64_t before = memory_in_use()["device"];
  const std::string message = usage_error([&] { gpu_->init_cache(64, 64, 1 << 22, 128); });
  EXPECT_NE(message.find("out of GPU memory"), std::string::npos) << message;
  EXPECT_NE(message.find("MiB"), std::string::npos) << message;
  EXPECT_EQ(memory_in_use()["device"], before);
  auto kv = gpu_->init_cache(2, 2, 16, 16);
  EXPECT_EQ(memory_in_use()["device"], before + 2 * 2 * 2 * 16 * 16 * 4);
  EXPECT_EQ(gpu_->gen(*w_, *kv, 0, Tokens{1, 2}, -1, 3).size(), 3u);
}

TEST_F(CudaBackendErrors, ProfilerRecordsKernelsAndCopies) {
  options_.profiler = &profiler_;
  cuda::CudaBackend profiled(options_);
  auto w = profiled.adopt(test::random_weights(test::tiny_config(), ElemType::F32, 3));
  auto kv = profiled.init_cache(2, 2, 32, 16);
  profiled.gen(*w, *kv, 0, Tokens{1, 2, 3}, -1, 2);
  EXPECT_TRUE(profiler_.events().empty());  // off: nothing recorded
  profiler_.set_active(true);
  const auto tokens = profiled.gen(*w, *kv, 0, Tokens{1, 2, 3}, -1, 4);
  std::set<std::string> names;
  for (const ProfileEvent& e : profiler_.events()) {
    names.insert(e.name);
    EXPECT_LE(e.start_us, e.end_us);
  }
  for (const char* n : {"embed", "gemm_qkv", "attention", "matvec_qkv", "matvec_ffn_gate_up",
                        "matvec_output", "argmax", "copy_host_to_dev", "copy_dev_to_host"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  // Profiling drives the steps from the host; the tokens are the same.
  profiler_.set_active(false);
  auto kv2 = profiled.init_cache(2, 2, 32, 16);
  EXPECT_EQ(profiled.gen(*w, *kv2, 0, Tokens{1, 2, 3}, -1, 4), tokens);
  EXPECT_GT(memory_in_use()["device"], 0);
}

TEST(CudaBackendFactory, MakeBackendGivesTheCudaBackend) {
  HH_SKIP_WITHOUT_GPU();
  EngineOptions options;
  options.dtype = ElemType::BF16;
  auto b = make_backend(BackendKind::Cuda, options);
  EXPECT_EQ(b->name(), "cuda");
  options.dtype = ElemType::I32;
  EXPECT_THROW(make_backend(BackendKind::Cuda, options), UsageError);
}

// The 0.6B-shaped check (run by bench/cuda/run_device.sh, which writes the models):
// HH_CUDA_06B_DIR/qwen3-0.6b-<dtype>.gguf on the GPU against the CPU backend.
class CudaZeroSixB : public ::testing::TestWithParam<ElemType> {};

TEST_P(CudaZeroSixB, LogitsAndGreedyTokensMatchTheCpu) {
  HH_SKIP_WITHOUT_GPU();
  const char* dir = std::getenv("HH_CUDA_06B_DIR");
  if (dir == nullptr) GTEST_SKIP() << "HH_CUDA_06B_DIR is not set";
  const ElemType dtype = GetParam();
  const std::string path =
      std::string(dir) + "/qwen3-0.6b-" + std::string(elem_name(dtype)) + ".gguf";
  EngineOptions options;
  options.dtype = dtype;
  CpuBackend cpu(options);
  cuda::CudaBackend gpu(options);
  auto cw = cpu.load(path);
  auto gw = gpu.load(path);
  const ModelConfig& c = cw->config;
  const Tokens prompt = {9707, 11, 1879, 0, 151643, 2000, 77, 1234, 42, 100000, 5, 6};
  auto cc = cpu.init_cache(c.n_layers, c.n_kv_heads, 64, c.head_dim);
  auto gc = gpu.init_cache(c.n_layers, c.n_kv_heads, 64, c.head_dim);
  const Array want = cpu.logits(*cw, *cc, 0, prompt);
  const Array got = gpu.logits(*gw, *gc, 0, prompt);
  const double tol = dtype == ElemType::F32 ? 1e-4 : 2e-2;
  double worst = 0;
  for (int64_t t = 0; t < want.dim(0); ++t) worst = std::max(worst, rel_error(got, want, t));
  EXPECT_LT(worst, tol);
  std::printf("0.6B %s: worst relative logits error GPU vs CPU over %zu positions: %.3g\n",
              std::string(elem_name(dtype)).c_str(), prompt.size(), worst);
  // One decode step over the prefilled cache (the matrix-vector path).
  const Tokens next = {314};
  const Array want1 = cpu.logits(*cw, *cc, 12, next);
  const Array got1 = gpu.logits(*gw, *gc, 12, next);
  EXPECT_LT(rel_error(got1, want1, 0), tol);
  if (dtype != ElemType::F32) return;
  auto cc2 = cpu.init_cache(c.n_layers, c.n_kv_heads, 64, c.head_dim);
  auto gc2 = gpu.init_cache(c.n_layers, c.n_kv_heads, 64, c.head_dim);
  EXPECT_EQ(gpu.gen(*gw, *gc2, 0, prompt, -1, 12), cpu.gen(*cw, *cc2, 0, prompt, -1, 12));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaZeroSixB,
                         ::testing::Values(ElemType::F32, ElemType::F16, ElemType::BF16),
                         [](const auto& info) { return std::string(elem_name(info.param)); });

// The reference fixtures (tools/make_reference.py) on the GPU: the CPU backend's tolerances.
class CudaReference : public ::testing::TestWithParam<std::tuple<const char*, ElemType>> {};

TEST_P(CudaReference, LogitsAndGreedyTokensMatchTransformers) {
  HH_SKIP_WITHOUT_GPU();
  const auto [fixture, dtype] = GetParam();
  const std::string dir = std::string(HH_FIXTURES_DIR) + "/reference/" + fixture;
  std::ifstream in(dir + "/reference.json");
  ASSERT_TRUE(in) << dir;
  const nlohmann::json j = nlohmann::json::parse(in);
  EngineOptions options;
  options.dtype = dtype;
  cuda::CudaBackend gpu(options);
  auto w = gpu.load(dir);
  const ModelConfig& c = w->config;
  const double tol = dtype == ElemType::F32 ? 1e-4 : 2e-2;
  const auto tokens = j.at("logits").at("tokens").get<std::vector<int64_t>>();
  const auto ref = j.at("logits").at("values").get<std::vector<std::vector<double>>>();
  auto kv = gpu.init_cache(c.n_layers, c.n_kv_heads, 64, c.head_dim);
  const Array logits = gpu.logits(*w, *kv, 0, tokens);
  for (size_t t = 0; t < ref.size(); ++t) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < ref[t].size(); ++i) {
      const double g = logits.data<float>()[t * ref[t].size() + i];
      diff += (g - ref[t][i]) * (g - ref[t][i]);
      norm += ref[t][i] * ref[t][i];
    }
    EXPECT_LT(std::sqrt(diff / norm), tol) << "position " << t;
  }
  if (dtype != ElemType::F32) return;
  for (const auto& g : j.at("greedy")) {
    const auto prompt = g.at("prompt").get<std::vector<int64_t>>();
    const auto want = g.at("tokens").get<std::vector<int64_t>>();
    auto kv2 = gpu.init_cache(c.n_layers, c.n_kv_heads, 128, c.head_dim);
    EXPECT_EQ(gpu.gen(*w, *kv2, 0, prompt, -1, static_cast<int64_t>(want.size())), want);
  }
  const auto& e = j.at("eos");
  auto kv3 = gpu.init_cache(c.n_layers, c.n_kv_heads, 128, c.head_dim);
  EXPECT_EQ(gpu.gen(*w, *kv3, 0, e.at("prompt").get<std::vector<int64_t>>(),
                    e.at("eos_token_id").get<int64_t>(), 100),
            e.at("tokens").get<std::vector<int64_t>>());
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CudaReference,
    ::testing::Combine(::testing::Values("a_f32_tied", "b_bf16_untied", "c_f16_sharded"),
                       ::testing::Values(ElemType::F32, ElemType::F16, ElemType::BF16)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param)) + "_as_" +
             std::string(elem_name(std::get<1>(info.param)));
    });

}  // namespace
}  // namespace hh
#endif  // HH_HAVE_CUDA
