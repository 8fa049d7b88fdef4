// CUDA backend benchmarks at Qwen3-0.6B shape (bench/cuda/run_device.sh runs them on the GPU
// machine next to llama.cpp; numbers in bench/NOTES-cuda.md).
//   hh_bench --benchmark_filter=CudaCopy        device-to-device copy: the bandwidth floor
//   HH_CUDA_BENCH_MODELS=DIR hh_bench --benchmark_filter=Cuda0p6B
//       DIR/qwen3-0.6b-{f32,f16,bf16}.gguf (hedgehog make-model --preset 0.6b);
//       decode: gen with 1 prompt token and 128 new tokens (tokens/s, GB/s of weights per token,
//       fraction of the copy-bandwidth bound); prefill: 512 prompt tokens (tokens/s).
//       HH_CUDA_DECODE=host drives the decode steps from the host instead of the graph.
// Built only with the CUDA backend; without a GPU every benchmark reports an error and stops.
#ifdef HH_HAVE_CUDA
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"

namespace hh {
namespace {

bool have_gpu(benchmark::State& state) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    state.SkipWithError("no GPU");
    return false;
  }
  return true;
}

// Copy of `bytes` device to device; counts bytes read plus written, as the floor does.
void BM_CudaCopy(benchmark::State& state) {
  if (!have_gpu(state)) return;
  const size_t bytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
    state.SkipWithError("cannot allocate 2 GiB");
    return;
  }
  cudaMemset(a, 1, bytes);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);  // warm-up
  for (auto _ : state) {
    cudaEventRecord(start);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  state.counters["GB/s"] = benchmark::Counter(2.0 * bytes * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(a);
  cudaFree(b);
}
BENCHMARK(BM_CudaCopy)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

const char* const kDtypeNames[] = {"f32", "f16", "bf16"};

// One backend and model per dtype, loaded once for all benchmarks of the process.
struct Loaded {
  std::unique_ptr<cuda::CudaBackend> backend;
  std::shared_ptr<Weights> weights;
};

Loaded* model(benchmark::State& state, int dtype_index) {
  static std::map<int, Loaded> cache;
  if (!have_gpu(state)) return nullptr;
  const char* dir = std::getenv("HH_CUDA_BENCH_MODELS");
  if (dir == nullptr) {
    state.SkipWithError("set HH_CUDA_BENCH_MODELS to a folder of qwen3-0.6b-<dtype>.gguf files");
    return nullptr;
  }
  auto it = cache.find(dtype_index);
  if (it == cache.end()) {
    const std::string name = kDtypeNames[dtype_index];
    EngineOptions options;
    options.dtype = parse_model_dtype(name);
    Loaded l;
    try {
      l.backend = std::make_unique<cuda::CudaBackend>(options);
      l.weights = l.backend->load(std::string(dir) + "/qwen3-0.6b-" + name + ".gguf");
    } catch (const Error& e) {
      state.SkipWithError(e.what());
      return nullptr;
    }
    it = cache.emplace(dtype_index, std::move(l)).first;
  }
  return &it->second;
}

void BM_Cuda0p6BDecode(benchmark::State& state) {
  Loaded* m = model(state, static_cast<int>(state.range(0)));
  if (m == nullptr) return;
  const ModelConfig& c = m->weights->config;
  auto kv = m->backend->init_cache(c.n_layers, c.n_kv_heads, 1024, c.head_dim);
  const std::vector<int64_t> prompt = {9707};
  constexpr int64_t kNew = 128;
  m->backend->gen(*m->weights, *kv, 0, prompt, -1, kNew);  // warm-up: graph capture
  for (auto _ : state) {
    const auto out = m->backend->gen(*m->weights, *kv, 0, prompt, -1, kNew);
    if (static_cast<int64_t>(out.size()) != kNew) state.SkipWithError("short generation");
  }
  const double tokens = static_cast<double>(kNew) * state.iterations();
  state.counters["tok/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(tokens * m->weights->weight_bytes() / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["GB/token"] = static_cast<double>(m->weights->weight_bytes()) / 1e9;
  state.SetLabel(std::string(kDtypeNames[state.range(0)]) + " " + m->backend->device_name());
}
BENCHMARK(BM_Cuda0p6BDecode)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->MinTime(2.0);

void BM_Cuda0p6BPrefill(benchmark::State& state) {
  Loaded* m = model(state, static_cast<int>(state.range(0)));
  if (m == nullptr) return;
  const ModelConfig& c = m->weights->config;
  auto kv = m->backend->init_cache(c.n_layers, c.n_kv_heads, 1024, c.head_dim);
  constexpr int64_t kT = 512;
  std::vector<int64_t> prompt(kT);
  for (int64_t i = 0; i < kT; ++i) prompt[static_cast<size_t>(i)] = (i * 7919) % c.vocab_size;
  m->backend->gen(*m->weights, *kv, 0, prompt, -1, 1);  // warm-up: cuBLAS heuristics
  for (auto _ : state) m->backend->gen(*m->weights, *kv, 0, prompt, -1, 1);
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(kT) * state.iterations(),
                                               benchmark::Counter::kIsRate);
  state.SetLabel(std::string(kDtypeNames[state.range(0)]) + " " + m->backend->device_name());
}
BENCHMARK(BM_Cuda0p6BPrefill)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace hh
#endif  // HH_HAVE_CUDA
