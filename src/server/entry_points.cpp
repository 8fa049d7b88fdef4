#include "server/entry_points.h"

#include <cmath>
#include <limits>

#include "server/records.h"

namespace hh::server {
namespace {

template <typename T>
T scalar(const Value& v) {
  return v.array()->scalar_value<T>();
}

std::span<const int64_t> tokens_of(const Value& v) {
  const Array& a = *v.array();
  return {a.data<int64_t>(), static_cast<size_t>(a.count())};
}

// Everything the engine would otherwise find out half-way through a step: the cache must fit
// the model, and the tokens must fit the vocabulary and the cache.
void check_step(std::string_view entry, const Weights& w, const KVCache& cache, int64_t xsat,
                std::span<const int64_t> xs) {
  const ModelConfig& c = w.config;
  if (cache.dtype() != w.dtype) {
    fail_usage("{}: the cache holds {} but the params are {}", entry, elem_name(cache.dtype()),
               elem_name(w.dtype));
  }
  const struct {
    const char* what;
    int64_t cache_value;
    int64_t model_value;
  } dims[] = {{"layers (b)", cache.n_layers(), c.n_layers},
              {"kv heads (kvh)", cache.n_kv_heads(), c.n_kv_heads},
              {"head width (dh)", cache.head_dim(), c.head_dim}};
  for (const auto& d : dims) {
    if (d.cache_value != d.model_value) {
      fail_usage("{}: the cache has {} {} but the model has {}", entry, d.cache_value, d.what,
                 d.model_value);
    }
  }
  const auto t = static_cast<int64_t>(xs.size());
  if (t == 0) fail_usage("{}: xs is empty; at least one token is needed", entry);
  if (xsat < 0) fail_usage("{}: xsat is {}; it must be at least 0", entry, xsat);
  if (xsat > cache.context() - t) {
    fail_usage("{}: {} tokens at xsat={} pass the end of the cache (context cs={})", entry, t, xsat,
               cache.context());
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] < 0 || xs[i] >= c.vocab_size) {
      fail_usage("{}: token id {} at xs[{}] is out of range (vocabulary size {})", entry, xs[i], i,
                 c.vocab_size);
    }
  }
}

// The inputs that gen, logits and sample begin with, (xsat, xs, params, cache), checked for
// `entry` by check_step.
struct StepInputs {
  int64_t xsat;
  std::span<const int64_t> xs;  // a view of in[1]
  const Weights& w;
  std::shared_ptr<KVCache> cache;
};

StepInputs step_inputs(std::string_view entry, std::span<const Value> in) {
  StepInputs s{scalar<int64_t>(in[0]), tokens_of(in[1]), *in[2].params(), *in[3].cache()};
  check_step(entry, s.w, *s.cache, s.xsat, s.xs);
  return s;
}

void check_max_new_tokens(std::string_view entry, int64_t max_new_tokens) {
  if (max_new_tokens < 0) {
    fail_usage("{}: max_new_tokens is {}; it must be at least 0", entry, max_new_tokens);
  }
}

Value run_load(CallContext& ctx, std::span<const Value> in) {
  const std::string path = array_string(*in[0].array());
  if (path.empty()) fail_usage("load: the path is empty");
  if (path.find('\0') != std::string::npos) fail_usage("load: the path contains a NUL byte");
  auto weights = ctx.timed([&] { return ctx.backend.load(path); });
  return Value::of_params(std::move(weights));
}

Value run_init(CallContext& ctx, std::span<const Value> in) {
  const int64_t b = scalar<int64_t>(in[0]), kvh = scalar<int64_t>(in[1]),
                cs = scalar<int64_t>(in[2]), dh = scalar<int64_t>(in[3]);
  if (b <= 0 || kvh <= 0 || cs <= 0 || dh <= 0) {
    fail_usage("init: every size must be positive, got b={} kvh={} cs={} dh={}", b, kvh, cs, dh);
  }
  auto cache = ctx.timed([&] { return ctx.backend.init_cache(b, kvh, cs, dh); });
  return Value::of_cache(std::move(cache));
}

Value run_gen(CallContext& ctx, std::span<const Value> in) {
  const StepInputs step = step_inputs("gen", in);
  const int64_t eos = scalar<int64_t>(in[4]);
  const int64_t max_new_tokens = scalar<int64_t>(in[5]);
  check_max_new_tokens("gen", max_new_tokens);
  auto tokens = ctx.timed([&] {
    return ctx.backend.gen(step.w, *step.cache, step.xsat, step.xs, eos, max_new_tokens);
  });
  return Value::of_tuple(kGenOutputType,
                         {Value::of_array(Array::from_i64(tokens)), Value::of_cache(step.cache)});
}

Value run_logits(CallContext& ctx, std::span<const Value> in) {
  const StepInputs step = step_inputs("logits", in);
  Array logits =
      ctx.timed([&] { return ctx.backend.logits(step.w, *step.cache, step.xsat, step.xs); });
  logits = ctx.backend.to_host(logits);
  const Shape expected{static_cast<int64_t>(step.xs.size()), step.w.config.vocab_size};
  if (logits.type() != ElemType::F32 || logits.shape() != expected) {
    fail("logits: the engine returned {}{}, expected {}f32", shape_string(logits.shape()),
         elem_name(logits.type()), shape_string(expected));
  }
  return Value::of_tuple(kLogitsOutputType,
                         {Value::of_array(std::move(logits)), Value::of_cache(step.cache)});
}

Value run_sample(CallContext& ctx, std::span<const Value> in) {
  const StepInputs step = step_inputs("sample", in);
  const int64_t eos = scalar<int64_t>(in[4]);
  const int64_t max_new_tokens = scalar<int64_t>(in[5]);
  SamplingParams sp;
  sp.temperature = scalar<float>(in[6]);
  sp.top_k = scalar<int64_t>(in[7]);
  sp.top_p = scalar<float>(in[8]);
  sp.seed = scalar<uint64_t>(in[9]);
  check_max_new_tokens("sample", max_new_tokens);
  if (!std::isfinite(sp.temperature) || sp.temperature < 0) {
    fail_usage("sample: temperature is {}; it must be finite and at least 0", sp.temperature);
  }
  if (sp.top_k < 0) fail_usage("sample: top_k is {}; it must be at least 0", sp.top_k);
  if (!(sp.top_p > 0 && sp.top_p <= 1)) {
    fail_usage("sample: top_p is {}; it must be in (0, 1]", sp.top_p);
  }
  auto tokens = ctx.timed([&] {
    return ctx.backend.sample(step.w, *step.cache, step.xsat, step.xs, eos, max_new_tokens, sp);
  });
  return Value::of_tuple(kGenOutputType,
                         {Value::of_array(Array::from_i64(tokens)), Value::of_cache(step.cache)});
}

Value run_sum_n1(CallContext& ctx, std::span<const Value> in) {
  const int64_t n = scalar<int64_t>(in[0]);
  const int64_t r = ctx.timed([&] { return sum_of_first_n(n); });
  return Value::of_array(Array::scalar<int64_t>(ElemType::I64, r));
}

Value run_sum_n2(CallContext& ctx, std::span<const Value> in) {
  const int64_t n = scalar<int64_t>(in[0]);
  const int64_t r = ctx.timed([&] { return sum_of_squares(n); });
  return Value::of_array(Array::scalar<int64_t>(ElemType::I64, r));
}

constexpr EntryInput kXsat{"xsat", "i64"};
constexpr EntryInput kXs{"xs", "[]i64"};
constexpr EntryInput kParams{"params", kParamsType};
constexpr EntryInput kCache{"cache", kCacheType, true};

}  // namespace

int64_t sum_of_first_n(int64_t n) {
  if (n < 0) fail_usage("n is {}; it must be at least 0", n);
  const __int128 r = static_cast<__int128>(n) * (n + 1) / 2;
  if (r > std::numeric_limits<int64_t>::max()) {
    fail_usage("the sum of 1..{} does not fit in i64", n);
  }
  return static_cast<int64_t>(r);
}

int64_t sum_of_squares(int64_t n) {
  if (n < 0) fail_usage("n is {}; it must be at least 0", n);
  // n(n+1)/2 < 2^126 and, once it is below 2^63, times (2n+1) < 2^64 stays below 2^127.
  const __int128 half = static_cast<__int128>(n) * (n + 1) / 2;
  if (half > std::numeric_limits<int64_t>::max()) {
    fail_usage("the sum of squares of 1..{} does not fit in i64", n);
  }
  const __int128 r = half * (2 * static_cast<__int128>(n) + 1) / 3;
  if (r > std::numeric_limits<int64_t>::max()) {
    fail_usage("the sum of squares of 1..{} does not fit in i64", n);
  }
  return static_cast<int64_t>(r);
}

const std::vector<EntryPoint>& entry_points() {
  static const std::vector<EntryPoint> table = {
      {"load", {{"path", "[]u8"}}, kParamsType, run_load},
      {"init", {{"b", "i64"}, {"kvh", "i64"}, {"cs", "i64"}, {"dh", "i64"}}, kCacheType, run_init},
      {"gen",
       {kXsat, kXs, kParams, kCache, {"eos_token_id", "i64"}, {"max_new_tokens", "i64"}},
       kGenOutputType,
       run_gen},
      {"logits", {kXsat, kXs, kParams, kCache}, kLogitsOutputType, run_logits},
      {"sample",
       {kXsat,
        kXs,
        kParams,
        kCache,
        {"eos_token_id", "i64"},
        {"max_new_tokens", "i64"},
        {"temperature", "f32"},
        {"top_k", "i64"},
        {"top_p", "f32"},
        {"seed", "u64"}},
       kGenOutputType,
       run_sample},
      {"tool_sumN1_sum_of_first_n_integers", {{"n", "i64"}}, "i64", run_sum_n1},
      {"tool_sumN2_sum_of_squares_of_first_n_integers", {{"n", "i64"}}, "i64", run_sum_n2},
  };
  return table;
}

const EntryPoint* find_entry_point(std::string_view name) {
  for (const auto& e : entry_points()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace hh::server
