// The CPU engine against Hugging Face transformers: tiny random Qwen3 models whose float64
// logits and greedy continuations tools/make_reference.py recorded (tools/README.md). Every
// fixture is loaded in f32, f16 and bf16; the bounds are the issue's: relative logits error
// below 1e-4 in f32 (every storage dtype widens to f32 exactly, so the weights are the very
// ones transformers used) and below 2e-2 in f16/bf16.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "model/loader.h"

namespace hh {
namespace {

using Tokens = std::vector<int64_t>;

const char* const kFixtures[] = {"a_f32_tied", "b_bf16_untied", "c_f16_sharded"};
constexpr int64_t kNoEos = -1;

std::string fixture_dir(const std::string& name) {
  return std::string(HH_FIXTURES_DIR) + "/reference/" + name;
}

// One greedy continuation of the reference, with the margin data of every step.
struct GreedyCase {
  Tokens prompt;
  Tokens tokens;
  std::vector<double> top2_gap;    // top-1 minus top-2 logit at each step
  std::vector<double> logit_norm;  // ||logits|| at each step
};

// reference.json (format "hedgehog-reference/1", tools/README.md).
struct Reference {
  std::string storage_dtype;
  ModelConfig config;
  Tokens prompt;                            // the full-logits prompt, T tokens
  std::vector<std::vector<double>> logits;  // (T, v)
  std::vector<GreedyCase> greedy;           // from a 1-token and from a 5-token prompt
  Tokens eos_prompt;
  Tokens eos_tokens;  // greedy up to and including eos_token_id
  int64_t eos_token_id = 0;
  int64_t eos_step = 0;  // eos_tokens.size() - 1
};

Reference read_reference(const std::string& name) {
  const std::string path = fixture_dir(name) + "/reference.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  const nlohmann::json j = nlohmann::json::parse(in);
  if (j.at("format") != "hedgehog-reference/1") {
    throw std::runtime_error(path + ": unknown format " + j.at("format").dump());
  }
  Reference r;
  r.storage_dtype = j.at("storage_dtype").get<std::string>();
  const auto& c = j.at("config");
  r.config.vocab_size = c.at("vocab_size");
  r.config.dim = c.at("dim");
  r.config.n_layers = c.at("n_layers");
  r.config.n_heads = c.at("n_heads");
  r.config.n_kv_heads = c.at("n_kv_heads");
  r.config.head_dim = c.at("head_dim");
  r.config.ffn_dim = c.at("ffn_dim");
  r.config.rope_theta = c.at("rope_theta").get<float>();
  r.config.rms_eps = c.at("rms_eps").get<float>();
  r.config.tied_output = c.at("tied_output");
  r.prompt = j.at("logits").at("tokens").get<Tokens>();
  r.logits = j.at("logits").at("values").get<std::vector<std::vector<double>>>();
  for (const auto& g : j.at("greedy")) {
    r.greedy.push_back({g.at("prompt").get<Tokens>(), g.at("tokens").get<Tokens>(),
                        g.at("top2_gap").get<std::vector<double>>(),
                        g.at("logit_norm").get<std::vector<double>>()});
  }
  const auto& e = j.at("eos");
  r.eos_prompt = e.at("prompt").get<Tokens>();
  r.eos_tokens = e.at("tokens").get<Tokens>();
  r.eos_token_id = e.at("eos_token_id");
  r.eos_step = e.at("step");
  return r;
}

// ||ours - ref|| / ||ref|| of one row of logits.
double relative_error(const float* ours, const std::vector<double>& ref) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (ours[i] - ref[i]) * (ours[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / norm);
}

TEST(ReferenceFixtures, AreConsistent) {
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    const Reference r = read_reference(name);
    const auto v = static_cast<size_t>(r.config.vocab_size);
    ASSERT_GE(r.prompt.size(), 8u);
    ASSERT_EQ(r.logits.size(), r.prompt.size());
    for (const auto& row : r.logits) ASSERT_EQ(row.size(), v);
    ASSERT_EQ(r.greedy.size(), 2u);
    for (const auto& g : r.greedy) {
      ASSERT_EQ(g.top2_gap.size(), g.tokens.size());
      ASSERT_EQ(g.logit_norm.size(), g.tokens.size());
      for (int64_t t : g.tokens) ASSERT_LT(static_cast<size_t>(t), v);
    }
    // The engine must stop at eos_step: the token appears there and nowhere before.
    ASSERT_EQ(static_cast<int64_t>(r.eos_tokens.size()), r.eos_step + 1);
    EXPECT_EQ(r.eos_tokens.back(), r.eos_token_id);
    EXPECT_EQ(std::count(r.eos_tokens.begin(), r.eos_tokens.end(), r.eos_token_id), 1);
  }
}

struct Case {
  std::string fixture;
  ElemType dtype;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.fixture << " as " << elem_name(c.dtype); }

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return info.param.fixture + "_as_" + std::string(elem_name(info.param.dtype));
}

class ReferenceTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    ref_ = read_reference(GetParam().fixture);
    backend_ = make_backend(BackendKind::Cpu, EngineOptions{.dtype = dtype()});
    weights_ = backend_->adopt(load_model(fixture_dir(GetParam().fixture), dtype()));
  }

  ElemType dtype() const { return GetParam().dtype; }
  bool exact() const { return dtype() == ElemType::F32; }
  double tolerance() const { return exact() ? 1e-4 : 2e-2; }

  std::shared_ptr<KVCache> cache(int64_t cs) {
    const ModelConfig& c = weights_->config;
    return backend_->init_cache(c.n_layers, c.n_kv_heads, cs, c.head_dim);
  }

  // Checks logits (T, v) of positions first..first+T-1 of the reference prompt; returns the
  // largest relative error.
  double expect_logits(const Array& logits, size_t first) {
    EXPECT_EQ(logits.type(), ElemType::F32);
    EXPECT_EQ(logits.rank(), 2);
    if (logits.type() != ElemType::F32 || logits.rank() != 2 ||
        logits.dim(1) != ref_.config.vocab_size) {
      ADD_FAILURE() << "logits are " << logits.type_name() << " " << shape_string(logits.shape());
      return INFINITY;
    }
    double worst = 0;
    for (int64_t t = 0; t < logits.dim(0); ++t) {
      const double err = relative_error(logits.data<float>() + t * logits.dim(1),
                                        ref_.logits.at(first + static_cast<size_t>(t)));
      EXPECT_LT(err, tolerance()) << "position " << first + static_cast<size_t>(t);
      worst = std::max(worst, err);
    }
    return worst;
  }

  // Greedy tokens against the first `count` tokens of the reference path g. In f32 they must
  // be identical: every reference step has a clear top-2 gap. In f16/bf16 a step may pick
  // another token only where the reference's top-2 gap is within what the logits tolerance
  // allows (sqrt(2) * tol * ||logits||); the paths part there, and the rest is not compared.
  void expect_greedy(const Tokens& ours, const GreedyCase& g, size_t count) {
    ASSERT_EQ(ours.size(), count);
    for (size_t step = 0; step < count; ++step) {
      if (ours[step] == g.tokens[step]) continue;
      if (exact()) {
        ADD_FAILURE() << "step " << step << ": " << ours[step] << " instead of " << g.tokens[step];
      } else {
        EXPECT_LT(g.top2_gap[step], std::sqrt(2.0) * tolerance() * g.logit_norm[step])
            << "step " << step << ": " << ours[step] << " instead of " << g.tokens[step]
            << " although the reference's top-2 gap is beyond the logits tolerance";
      }
      return;
    }
  }

  Reference ref_;
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<Weights> weights_;
};

TEST_P(ReferenceTest, LoadedConfigMatches) {
  const ModelConfig& c = weights_->config;
  EXPECT_EQ(weights_->dtype, dtype());
  EXPECT_EQ(c.vocab_size, ref_.config.vocab_size);
  EXPECT_EQ(c.dim, ref_.config.dim);
  EXPECT_EQ(c.n_layers, ref_.config.n_layers);
  EXPECT_EQ(c.n_heads, ref_.config.n_heads);
  EXPECT_EQ(c.n_kv_heads, ref_.config.n_kv_heads);
  EXPECT_EQ(c.head_dim, ref_.config.head_dim);
  EXPECT_EQ(c.ffn_dim, ref_.config.ffn_dim);
  EXPECT_FLOAT_EQ(c.rope_theta, ref_.config.rope_theta);
  EXPECT_FLOAT_EQ(c.rms_eps, ref_.config.rms_eps);
  EXPECT_EQ(c.tied_output, ref_.config.tied_output);
  EXPECT_EQ(weights_->token_embd.type(), dtype());
  if (c.tied_output) {
    EXPECT_EQ(weights_->output.raw(), weights_->token_embd.raw()) << "tied output is a copy";
  }
  EXPECT_EQ(static_cast<int64_t>(weights_->layers.size()), ref_.config.n_layers);
}

TEST_P(ReferenceTest, LogitsMatch) {
  auto kv = cache(32);
  const Array logits = backend_->logits(*weights_, *kv, 0, ref_.prompt);
  ASSERT_EQ(logits.dim(0), static_cast<int64_t>(ref_.prompt.size()));
  // Kept in the XML report (--gtest_output=xml) to watch the accuracy margin.
  RecordProperty("max_rel_err", fmt::format("{:.3g}", expect_logits(logits, 0)));
}

// `logits` of A then of B at xsat = len(A) equals the full pass over A+B, for several splits.
TEST_P(ReferenceTest, PromptExtensionMatches) {
  const std::vector<std::vector<size_t>> splits = {{1}, {5}, {11}, {4, 8}, {1, 2, 3, 9}};
  for (const auto& cuts : splits) {
    SCOPED_TRACE(testing::PrintToString(cuts));
    auto kv = cache(32);
    size_t begin = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
      const size_t end = i < cuts.size() ? cuts[i] : ref_.prompt.size();
      const std::span<const int64_t> part(ref_.prompt.data() + begin, end - begin);
      const Array logits = backend_->logits(*weights_, *kv, static_cast<int64_t>(begin), part);
      ASSERT_EQ(logits.dim(0), static_cast<int64_t>(end - begin));
      expect_logits(logits, begin);
      begin = end;
    }
  }
}

TEST_P(ReferenceTest, GreedyGenMatches) {
  for (const GreedyCase& g : ref_.greedy) {
    SCOPED_TRACE("prompt of " + std::to_string(g.prompt.size()));
    const auto n = static_cast<int64_t>(g.tokens.size());
    auto kv = cache(64);
    expect_greedy(backend_->gen(*weights_, *kv, 0, g.prompt, kNoEos, n), g, g.tokens.size());
    // max_new_tokens stops it early.
    auto kv2 = cache(64);
    expect_greedy(backend_->gen(*weights_, *kv2, 0, g.prompt, kNoEos, 3), g, 3);
  }
}

// A prompt fed partly by `logits` and the rest by `gen` at xsat continues like the whole.
TEST_P(ReferenceTest, GreedyGenAfterPromptExtension) {
  const GreedyCase& g = ref_.greedy.back();
  ASSERT_GE(g.prompt.size(), 3u);
  const size_t split = 2;
  auto kv = cache(64);
  backend_->logits(*weights_, *kv, 0, std::span<const int64_t>(g.prompt.data(), split));
  const std::span<const int64_t> rest(g.prompt.data() + split, g.prompt.size() - split);
  const auto n = static_cast<int64_t>(g.tokens.size());
  expect_greedy(backend_->gen(*weights_, *kv, split, rest, kNoEos, n), g, g.tokens.size());
}

// The last token gen returns is not yet in the cache: feeding it back at the next position
// continues the same greedy path.
TEST_P(ReferenceTest, GenContinuesFromCache) {
  for (const GreedyCase& g : ref_.greedy) {
    SCOPED_TRACE("prompt of " + std::to_string(g.prompt.size()));
    const size_t first = 7;
    auto kv = cache(64);
    const Tokens a = backend_->gen(*weights_, *kv, 0, g.prompt, kNoEos, first);
    ASSERT_EQ(a.size(), first);
    const Tokens last = {a.back()};
    const auto xsat = static_cast<int64_t>(g.prompt.size() + first - 1);
    const Tokens b = backend_->gen(*weights_, *kv, xsat, last, kNoEos,
                                   static_cast<int64_t>(g.tokens.size() - first));
    Tokens all = a;
    all.insert(all.end(), b.begin(), b.end());
    expect_greedy(all, g, g.tokens.size());
  }
}

TEST_P(ReferenceTest, EosStopsAndIsIncluded) {
  auto kv_free = cache(64);
  const Tokens path = backend_->gen(*weights_, *kv_free, 0, ref_.eos_prompt, kNoEos, 16);
  ASSERT_EQ(path.size(), 16u);

  // The reference's case: in f32 always; in f16/bf16 where our path agrees with it up to eos.
  const auto step = static_cast<ptrdiff_t>(ref_.eos_step);
  if (exact() || std::equal(ref_.eos_tokens.begin(), ref_.eos_tokens.end(), path.begin())) {
    auto kv = cache(64);
    EXPECT_EQ(backend_->gen(*weights_, *kv, 0, ref_.eos_prompt, ref_.eos_token_id, 16),
              ref_.eos_tokens);
    EXPECT_EQ(Tokens(path.begin(), path.begin() + step + 1), ref_.eos_tokens);
  }

  // Against our own path, in every dtype: the last token that first appears at its step k
  // as eos gives exactly the path's first k+1 tokens.
  size_t k = path.size() - 1;
  while (k > 0 && std::find(path.begin(), path.begin() + static_cast<ptrdiff_t>(k), path[k]) !=
                      path.begin() + static_cast<ptrdiff_t>(k)) {
    --k;
  }
  auto kv_eos = cache(64);
  const Tokens stopped = backend_->gen(*weights_, *kv_eos, 0, ref_.eos_prompt, path[k], 16);
  EXPECT_EQ(stopped, Tokens(path.begin(), path.begin() + static_cast<ptrdiff_t>(k) + 1))
      << "eos " << path[k] << " first appears at step " << k;
}

// A cache of cs positions holds the prompt at xsat..xsat+T-1 and then one position per step,
// so exactly cs-(xsat+T)+1 tokens come out.
TEST_P(ReferenceTest, ContextFullStops) {
  const GreedyCase& g = ref_.greedy.back();
  const auto t = static_cast<int64_t>(g.prompt.size());
  for (int64_t want : {1, 2, 6, 16}) {
    SCOPED_TRACE("room for " + std::to_string(want));
    auto kv = cache(t + want - 1);
    const Tokens ours = backend_->gen(*weights_, *kv, 0, g.prompt, kNoEos, 100);
    expect_greedy(ours, g, static_cast<size_t>(want));
  }
  // The same with the prompt's first two tokens already in the cache.
  auto kv = cache(t + 3);
  backend_->logits(*weights_, *kv, 0, std::span<const int64_t>(g.prompt.data(), 2));
  const std::span<const int64_t> rest(g.prompt.data() + 2, g.prompt.size() - 2);
  expect_greedy(backend_->gen(*weights_, *kv, 2, rest, kNoEos, 100), g, 4);
}

TEST_P(ReferenceTest, PromptPastTheContextFails) {
  const Tokens& prompt = ref_.greedy.back().prompt;
  const auto t = static_cast<int64_t>(prompt.size());
  auto kv = cache(t - 1);
  EXPECT_THROW(backend_->gen(*weights_, *kv, 0, prompt, kNoEos, 4), UsageError);
  auto kv2 = cache(t + 2);
  EXPECT_THROW(backend_->gen(*weights_, *kv2, 3, prompt, kNoEos, 4), UsageError);
  EXPECT_THROW(backend_->logits(*weights_, *kv2, 3, prompt), UsageError);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* f : kFixtures) {
    for (ElemType t : {ElemType::F32, ElemType::F16, ElemType::BF16}) cases.push_back({f, t});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Transformers, ReferenceTest, testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace hh
