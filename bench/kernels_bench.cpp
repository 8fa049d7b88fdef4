// CPU engine micro-benchmarks at Qwen3-0.6B shapes, plus end-to-end gen/prefill on a model file.
//   hh_bench --benchmark_filter=Matvec      matrix-vector (decode) products, GB/s of weights read
//   hh_bench --benchmark_filter=Prefill     T=512 matmuls (sgemm on converted tiles), GFLOP/s
//   hh_bench --benchmark_filter=Attention   attention over the KV cache at a few lengths
//   HH_BENCH_MODEL=q06-f16.gguf HH_BENCH_DTYPE=f16 hh_bench --benchmark_filter=0p6B
//       decode: gen with 1 prompt token and 128 new tokens (tokens/s, GB/s of weights per token);
//       prefill: 512 prompt tokens (tokens/s). HH_BENCH_THREADS overrides the thread count;
//       HH_BENCH_PROFILE=1 prints the time per cost centre (matmul, attention, ...) to stderr.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>

#include "engine/cpu/cpu_backend.h"
#include "model/loader.h"
#include "util/half.h"

namespace hh {
namespace {

// Weight matrices of (rows, cols) in `type`, enough distinct copies to exceed the L3 cache so
// each product streams its weights from memory as in a real decode.
struct WeightPool {
  std::vector<Array> copies;
  WeightPool(ElemType type, int64_t rows, int64_t cols) {
    const int64_t bytes = rows * cols * static_cast<int64_t>(elem_size(type));
    const int64_t n = std::max<int64_t>(2, (256 << 20) / bytes);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
    for (int64_t i = 0; i < n; ++i) {
      Array a = Array::allocate(type, {rows, cols}, false);
      for (int64_t j = 0; j < a.count(); ++j) {
        const float v = dist(rng);
        if (type == ElemType::F32) a.data<float>()[j] = v;
        if (type == ElemType::F16) a.data<uint16_t>()[j] = f32_to_f16(v);
        if (type == ElemType::BF16) a.data<uint16_t>()[j] = f32_to_bf16(v);
      }
      copies.push_back(std::move(a));
    }
  }
};

int bench_threads() {
  const char* t = std::getenv("HH_BENCH_THREADS");
  return t ? std::atoi(t) : 0;
}

void BM_Matvec(benchmark::State& state, ElemType type) {
  const int64_t rows = state.range(0), cols = state.range(1);
  WeightPool pool(type, rows, cols);
  cpu::CpuOps ops(cpu::best_kernels(), bench_threads(), nullptr);
  std::vector<float> x(static_cast<size_t>(cols), 0.5f), y(static_cast<size_t>(rows));
  size_t i = 0;
  for (auto _ : state) {
    ops.matmul(x.data(), 1, pool.copies[i++ % pool.copies.size()], y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * rows * cols * static_cast<int64_t>(elem_size(type)));
  state.counters["threads"] = ops.threads();
}

void BM_Prefill(benchmark::State& state, ElemType type) {
  const int64_t rows = state.range(0), cols = state.range(1), T = 512;
  WeightPool pool(type, rows, cols);
  cpu::CpuOps ops(cpu::best_kernels(), bench_threads(), nullptr);
  std::vector<float> x(static_cast<size_t>(T * cols), 0.5f), y(static_cast<size_t>(T * rows));
  size_t i = 0;
  for (auto _ : state) {
    ops.matmul(x.data(), T, pool.copies[i++ % pool.copies.size()], y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(2 * T * rows * cols) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

// 0.6B attention: 16 query heads, 8 kv heads, dh 128, one layer; T new tokens after `len`
// cached positions.
void BM_Attention(benchmark::State& state, ElemType type) {
  const int64_t len = state.range(0), T = state.range(1), heads = 16, kvh = 8, dh = 128;
  KVCache cache = make_host_kv_cache(1, kvh, len + T, dh, type);
  cpu::CpuOps ops(cpu::best_kernels(), bench_threads(), nullptr);
  std::vector<float> q(static_cast<size_t>(T * heads * dh), 0.1f), out(q.size());
  for (auto _ : state) {
    ops.attention(q.data(), cache, 0, len, T, heads, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * T);
}

#define HH_DTYPE_BENCH(fn, name, type) BENCHMARK_CAPTURE(fn, name, type)

// 0.6B shapes: q/gate/up are d -> 2048/3072 (1024 -> 3072 here), down is 3072 -> 1024, the
// output projection 1024 -> 151936.
#define HH_MATVEC_SHAPES ->Args({3072, 1024})->Args({1024, 3072})->Args({151936, 1024})
HH_DTYPE_BENCH(BM_Matvec, f32, ElemType::F32) HH_MATVEC_SHAPES->UseRealTime();
HH_DTYPE_BENCH(BM_Matvec, f16, ElemType::F16) HH_MATVEC_SHAPES->UseRealTime();
HH_DTYPE_BENCH(BM_Matvec, bf16, ElemType::BF16) HH_MATVEC_SHAPES->UseRealTime();
HH_DTYPE_BENCH(BM_Prefill, f32, ElemType::F32)
    ->Args({3072, 1024})
    ->Args({1024, 3072})
    ->UseRealTime();
HH_DTYPE_BENCH(BM_Prefill, f16, ElemType::F16)
    ->Args({3072, 1024})
    ->Args({1024, 3072})
    ->UseRealTime();
HH_DTYPE_BENCH(BM_Prefill, bf16, ElemType::BF16)
    ->Args({3072, 1024})
    ->Args({1024, 3072})
    ->UseRealTime();
HH_DTYPE_BENCH(BM_Attention, f16, ElemType::F16)
    ->Args({128, 1})
    ->Args({1024, 1})
    ->Args({4096, 1})
    ->Args({0, 512})
    ->UseRealTime();
HH_DTYPE_BENCH(BM_Attention, f32, ElemType::F32)->Args({1024, 1})->Args({0, 512})->UseRealTime();

// End to end on a real model file (HH_BENCH_MODEL); skipped without one.
struct ModelFixture {
  std::unique_ptr<CpuBackend> backend;
  std::shared_ptr<Weights> weights;
  Profiler profiler;
  const char* label = "";

  ~ModelFixture() {
    if (!profiler.active()) return;
    std::map<std::string, std::pair<int64_t, int64_t>> total;  // name -> (count, microseconds)
    int64_t all = 0;
    for (const auto& e : profiler.events()) {
      auto& [count, us] = total[e.name];
      ++count;
      us += e.end_us - e.start_us;
      all += e.end_us - e.start_us;
    }
    std::fprintf(stderr, "%s cost centres:\n", label);
    for (const auto& [name, cu] : total) {
      std::fprintf(stderr, "  %-12s %8lld calls %10.1f ms %5.1f%%\n", name.c_str(),
                   static_cast<long long>(cu.first), static_cast<double>(cu.second) / 1e3,
                   100.0 * static_cast<double>(cu.second) / static_cast<double>(all));
    }
  }
  bool load(benchmark::State& state) {
    const char* path = std::getenv("HH_BENCH_MODEL");
    if (!path) {
      state.SkipWithError("set HH_BENCH_MODEL to a Qwen3 GGUF file (and HH_BENCH_DTYPE)");
      return false;
    }
    const char* dtype = std::getenv("HH_BENCH_DTYPE");
    EngineOptions options;
    options.dtype = parse_model_dtype(dtype ? dtype : "f16");
    options.threads = bench_threads();
    if (std::getenv("HH_BENCH_PROFILE")) {
      profiler.set_active(true);
      options.profiler = &profiler;
    }
    backend = std::make_unique<CpuBackend>(options);
    weights = backend->load(path);
    return true;
  }
  std::shared_ptr<KVCache> cache(int64_t cs) {
    const ModelConfig& c = weights->config;
    return backend->init_cache(c.n_layers, c.n_kv_heads, cs, c.head_dim);
  }
};

void BM_Gen0p6B(benchmark::State& state) {
  ModelFixture m;
  m.label = "gen";
  if (!m.load(state)) return;
  const int64_t n_new = 128;
  auto kv = m.cache(n_new + 1);
  const std::vector<int64_t> prompt = {9707};
  int64_t tokens = 0;
  for (auto _ : state) {
    tokens += static_cast<int64_t>(m.backend->gen(*m.weights, *kv, 0, prompt, -1, n_new).size());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  // Every decoded token reads all weights once (the tied output counted once).
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(tokens) * static_cast<double>(m.weights->weight_bytes()) / 1e9,
      benchmark::Counter::kIsRate);
  state.counters["threads"] = m.backend->threads();
}
BENCHMARK(BM_Gen0p6B)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_Prefill0p6B(benchmark::State& state) {
  ModelFixture m;
  m.label = "prefill";
  if (!m.load(state)) return;
  const int64_t T = state.range(0);
  auto kv = m.cache(T);
  std::vector<int64_t> prompt;
  for (int64_t i = 0; i < T; ++i) prompt.push_back((i * 7919) % m.weights->config.vocab_size);
  for (auto _ : state) {
    // One new token: the prompt runs through every layer and only its last position through
    // the output projection, as llama-bench's pp test does.
    benchmark::DoNotOptimize(m.backend->gen(*m.weights, *kv, 0, prompt, -1, 1));
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(T) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Prefill0p6B)
    ->Arg(512)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace hh
