// The whole CPU forward pass against the naive double-precision Qwen3 in tiny_qwen3.h, on both
// kernel tables, f32/f16/bf16, tied and untied output.
#include <gtest/gtest.h>

#include "engine/cpu/cpu_backend.h"
#include "engine/tiny_qwen3.h"

namespace hh {
namespace {

struct Case {
  const cpu::KernelTable* kernels;
  ElemType dtype;
  bool tied;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  std::vector<const cpu::KernelTable*> tables = {&cpu::portable_kernels()};
  if (cpu::avx2_kernels()) tables.push_back(cpu::avx2_kernels());
  for (const auto* k : tables) {
    for (ElemType t : {ElemType::F32, ElemType::F16, ElemType::BF16}) {
      for (bool tied : {true, false}) out.push_back({k, t, tied});
    }
  }
  return out;
}

class Forward : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    EngineOptions options;
    options.dtype = GetParam().dtype;
    options.threads = 2;
    backend_ = std::make_unique<CpuBackend>(options, *GetParam().kernels);
    weights_ = backend_->adopt(
        test::random_weights(test::tiny_config(GetParam().tied), GetParam().dtype, 1234));
  }
  double tolerance() const { return GetParam().dtype == ElemType::F32 ? 1e-4 : 2e-2; }
  std::shared_ptr<KVCache> cache(int64_t cs) {
    const ModelConfig& c = weights_->config;
    return backend_->init_cache(c.n_layers, c.n_kv_heads, cs, c.head_dim);
  }
  // Checks rows of `logits` (T, v) against the reference's logits.
  void expect_close(const Array& logits, const std::vector<std::vector<double>>& ref) {
    const int64_t v = weights_->config.vocab_size;
    ASSERT_EQ(logits.dim(0), static_cast<int64_t>(ref.size()));
    ASSERT_EQ(logits.dim(1), v);
    for (size_t t = 0; t < ref.size(); ++t) {
      std::span<const float> row(logits.data<float>() + t * v, static_cast<size_t>(v));
      EXPECT_LT(test::relative_error(row, ref[t]), tolerance()) << "position " << t;
    }
  }

  std::unique_ptr<CpuBackend> backend_;
  std::shared_ptr<Weights> weights_;
};

TEST_P(Forward, LogitsMatchTheReference) {
  // 20 tokens: the prefill paths (sgemm matmuls and attention) besides decode-sized ones below.
  const std::vector<int64_t> xs = {3,  96, 0, 41, 41, 7,  88, 12, 5,  60,
                                   33, 2,  9, 71, 70, 69, 1,  1,  50, 95};
  auto kv = cache(24);
  Array logits = backend_->logits(*weights_, *kv, 0, xs);
  test::ReferenceQwen3 ref(*weights_);
  expect_close(logits, ref.run(xs));
}

TEST_P(Forward, PromptExtensionEqualsTheFullPass) {
  // A (17 tokens) takes the prefill paths, B (3) the decode-sized ones.
  const std::vector<int64_t> a = {10, 20, 30, 40, 50, 60, 70, 80, 90, 5, 6, 7, 8, 9, 11, 12, 13};
  const std::vector<int64_t> b = {1, 2, 3};
  auto kv = cache(24);
  Array la = backend_->logits(*weights_, *kv, 0, a);
  Array lb = backend_->logits(*weights_, *kv, static_cast<int64_t>(a.size()), b);
  std::vector<int64_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  auto kv_full = cache(24);
  Array full = backend_->logits(*weights_, *kv_full, 0, ab);
  const int64_t v = weights_->config.vocab_size;
  // Same keys and values in the cache either way, so the logits of B agree closely (the full
  // pass computes B's positions on the prefill paths, the extension on the decode-sized ones).
  for (size_t t = 0; t < b.size(); ++t) {
    std::vector<double> want(full.data<float>() + (a.size() + t) * v,
                             full.data<float>() + (a.size() + t + 1) * v);
    std::span<const float> got(lb.data<float>() + t * v, static_cast<size_t>(v));
    EXPECT_LT(test::relative_error(got, want), 1e-5) << t;
  }
  test::ReferenceQwen3 ref(*weights_);
  ref.run(a);
  expect_close(lb, ref.run(b));
}

INSTANTIATE_TEST_SUITE_P(Cpu, Forward, ::testing::ValuesIn(cases()), [](const auto& info) {
  return std::string(info.param.kernels->name) + "_" + std::string(elem_name(info.param.dtype)) +
         (info.param.tied ? "_tied" : "_untied");
});

// Greedy tokens in f32 (16-bit caches may flip near-ties, so only f32 is compared token by
// token), on both kernel tables.
TEST(ForwardGreedy, TokensMatchTheReference) {
  std::vector<const cpu::KernelTable*> tables = {&cpu::portable_kernels()};
  if (cpu::avx2_kernels()) tables.push_back(cpu::avx2_kernels());
  for (const auto* k : tables) {
    EngineOptions options;
    options.threads = 2;
    CpuBackend backend(options, *k);
    auto w = backend.adopt(test::random_weights(test::tiny_config(false), ElemType::F32, 77));
    auto kv = backend.init_cache(2, 2, 32, 16);
    const std::vector<int64_t> xs = {5, 17, 29};
    test::ReferenceQwen3 ref(*w);
    EXPECT_EQ(backend.gen(*w, *kv, 0, xs, -1, 12), ref.greedy(xs, 12)) << k->name;
  }
}

}  // namespace
}  // namespace hh
